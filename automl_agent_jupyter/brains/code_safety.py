"""A static check of code a brain wrote, before it runs in the user's kernel.

:func:`check_code` parses the cell with :mod:`ast` (IPython ``!`` lines and ``%`` magics are read
first, line by line) and reports what an ML cell has no business doing: shell escapes, package
installs, network access to hosts not allowed, file writes or deletes outside the run folder, and
``exec`` / ``eval`` of dynamic strings. Paths are judged only when they are literals (a string, a
``Path(...)`` of strings, ``os.path.join`` of strings, ``Path / "x"``); relative paths count as inside
the run folder. Ordinary ML code (``pd.read_csv(data_path)``, ``joblib.dump(model, run_dir / "m.joblib")``)
passes.
"""

from __future__ import annotations

import ast
import os
import re
from urllib.parse import urlsplit

from pydantic import BaseModel

Rule = str  # shell | package_install | network | file_write | file_delete | dynamic_exec | syntax


class Finding(BaseModel):
    line: int
    rule: Rule
    reason: str


_SHELL_MAGICS = {"system", "sx", "bash", "sh", "script", "perl", "ruby"}
_INSTALL_MAGICS = {"pip", "conda", "mamba", "micromamba", "uv"}
_INSTALL_WORDS = re.compile(r"(^|[\s/\"'])(pip3?|conda|mamba|micromamba|uv|easy_install|apt(-get)?)\b")
_URL = re.compile(r"\b(?:https?|ftp|wss?)://[^\s'\"<>)]+", re.IGNORECASE)

_SHELL_CALLS = {"os.system", "os.popen", "os.startfile", "pty.spawn", "platform.popen", "commands.getoutput"}
_SHELL_PREFIXES = ("subprocess.", "os.exec", "os.spawn", "os.posix_spawn", "pty.", "sh.", "plumbum.")
_NETWORK_PREFIXES = (
    "socket.",
    "requests.",
    "httpx.",
    "urllib.request.",
    "urllib3.",
    "http.client.",
    "aiohttp.",
    "ftplib.",
    "smtplib.",
    "telnetlib.",
    "paramiko.",
    "websocket.",
    "websockets.",
    "pycurl.",
)
_HARMLESS_NETWORK = ("Error", "Exception", "Timeout", "gethostname", "getfqdn")
_DELETE_CALLS = {"os.remove", "os.unlink", "os.rmdir", "os.removedirs", "shutil.rmtree"}
_MOVE_CALLS = {
    "shutil.move",
    "shutil.copy",
    "shutil.copy2",
    "shutil.copyfile",
    "shutil.copytree",
    "os.rename",
    "os.replace",
}
_DELETE_METHODS = {"unlink", "rmdir"}
# method name -> index of the path argument (writers of common ML libraries and pathlib)
_WRITE_METHODS = {
    "write_text": -1,
    "write_bytes": -1,
    "touch": -1,
    "to_csv": 0,
    "to_parquet": 0,
    "to_json": 0,
    "to_pickle": 0,
    "to_excel": 0,
    "to_feather": 0,
    "savefig": 0,
    "save_model": 0,
    "save_pretrained": 0,
}
_WRITE_CALLS = {
    "joblib.dump": 1,
    "pickle.dump": None,
    "torch.save": 1,
    "numpy.save": 0,
    "numpy.savez": 0,
    "numpy.savetxt": 0,
}


def check_code(
    source: str, run_dir: str, allowed_hosts: set[str] | frozenset[str] = frozenset()
) -> list[Finding]:
    """Every finding in ``source``, in line order; an empty list means nothing was flagged."""
    root = os.path.realpath(os.path.expanduser(run_dir))
    findings: list[Finding] = []
    python_lines: list[str] = []
    in_shell_cell = False
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        magic = _magic(stripped)
        if in_shell_cell:
            python_lines.append("")
            continue
        if magic is not None:
            kind, name, rest = magic
            if name in _INSTALL_MAGICS or (kind == "!" and _INSTALL_WORDS.search(" " + name + " " + rest)):
                findings.append(
                    Finding(line=number, rule="package_install", reason=f"installs packages: {stripped[:80]}")
                )
            elif kind in ("!", "!!") or name in _SHELL_MAGICS:
                findings.append(Finding(line=number, rule="shell", reason=f"shell escape: {stripped[:80]}"))
            elif name == "writefile":
                target = rest.split()[-1] if rest.split() else ""
                if target and _outside(target, root):
                    findings.append(
                        Finding(
                            line=number,
                            rule="file_write",
                            reason=f"%%writefile outside the run folder: {target}",
                        )
                    )
            elif name == "run":
                findings.append(
                    Finding(line=number, rule="dynamic_exec", reason=f"runs code not shown: {stripped[:80]}")
                )
            if kind == "%%":
                in_shell_cell = name in _SHELL_MAGICS | _INSTALL_MAGICS | {"writefile"}
            python_lines.append("")
            continue
        assign = re.match(r"^([A-Za-z_][\w, ]*)=\s*!(.*)$", stripped)  # files = !ls
        if assign:
            rest = assign.group(2)
            rule = "package_install" if _INSTALL_WORDS.search(" " + rest) else "shell"
            findings.append(Finding(line=number, rule=rule, reason=f"shell escape: {stripped[:80]}"))
            python_lines.append("")
            continue
        python_lines.append(line)
    try:
        tree = ast.parse("\n".join(python_lines))
    except SyntaxError as exc:
        findings.append(Finding(line=exc.lineno or 0, rule="syntax", reason=f"cannot parse: {exc.msg}"))
        return sorted(findings, key=lambda f: f.line)
    visitor = _Visitor(root, {h.lower() for h in allowed_hosts})
    visitor.visit(tree)
    findings.extend(visitor.findings)
    unique: dict[tuple[int, str], Finding] = {}
    for finding in findings:  # one finding per line and rule (a call and its URL are one access)
        unique.setdefault((finding.line, finding.rule), finding)
    return sorted(unique.values(), key=lambda f: f.line)


def _magic(stripped: str) -> tuple[str, str, str] | None:
    """(kind, name, rest) for ``!cmd``, ``!!cmd``, ``%name`` and ``%%name`` lines."""
    for kind in ("%%", "!!", "%", "!"):
        if stripped.startswith(kind):
            body = stripped[len(kind) :]
            if kind in ("!", "!!"):
                if body.startswith("="):  # a continued "!=" comparison, not a shell escape
                    return None
                name, _, rest = body.strip().partition(" ")
                return kind, name, rest
            match = re.match(r"([A-Za-z_]\w*)(.*)", body)  # IPython magics: no space after %
            return (kind, match.group(1), match.group(2).strip()) if match else None
    return None


class _Visitor(ast.NodeVisitor):
    def __init__(self, run_dir: str, allowed_hosts: set[str]) -> None:
        self.run_dir = run_dir
        self.allowed_hosts = allowed_hosts
        self.aliases: dict[str, str] = {"np": "numpy"}
        self.findings: list[Finding] = []

    # ------------------------------------------------------------------ helpers
    def flag(self, node: ast.AST, rule: Rule, reason: str) -> None:
        self.findings.append(Finding(line=getattr(node, "lineno", 0), rule=rule, reason=reason))

    def qualname(self, node: ast.AST) -> str | None:
        """``subprocess.run`` for ``sp.run`` after ``import subprocess as sp``; None if not a dotted name."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Call) and self.qualname(node.func) == "get_ipython":
            parts.append("get_ipython()")
        elif isinstance(node, ast.Name):
            parts.append(self.aliases.get(node.id, node.id))
        else:
            return None
        return ".".join(reversed(parts))

    def literal_path(self, node: ast.AST | None) -> str | None:
        """The path a literal expression names, or None when it is dynamic."""
        if node is None:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Call):
            name = self.qualname(node.func) or ""
            if name.split(".")[-1] in ("Path", "PurePath", "PosixPath") and len(node.args) >= 1:
                parts = [self.literal_path(a) for a in node.args]
                return None if None in parts else os.path.join(*parts)  # type: ignore[arg-type]
            if name in ("os.path.join", "posixpath.join") and node.args:
                parts = [self.literal_path(a) for a in node.args]
                return None if None in parts else os.path.join(*parts)  # type: ignore[arg-type]
            if name == "os.path.expanduser" and node.args:
                return self.literal_path(node.args[0])
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left, right = self.literal_path(node.left), self.literal_path(node.right)
            if left is not None and right is not None:
                return os.path.join(left, right)
        return None

    def outside(self, path: str) -> bool:
        return _outside(path, self.run_dir)

    def host_allowed(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        return any(host == h or host.endswith("." + h) for h in self.allowed_hosts)

    def check_path(self, node: ast.AST, arg: ast.AST | None, rule: Rule, what: str) -> None:
        path = self.literal_path(arg)
        if path is not None and self.outside(path):
            self.flag(node, rule, f"{what} outside the run folder: {path}")

    # ------------------------------------------------------------------ visitors
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.aliases[(alias.asname or alias.name).split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0]
            )
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and node.level == 0:
            for alias in node.names:
                self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        self.generic_visit(node)

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Constant):  # a docstring or bare string: documentation, not access
            return
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if isinstance(node.value, ast.Call) and self.qualname(node.value.func) == "get_ipython":
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.aliases[target.id] = "get_ipython()"
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            for url in _URL.findall(node.value):
                if not self.host_allowed(url):
                    self.flag(node, "network", f"URL to a host not allowed: {url[:80]}")

    def visit_Call(self, node: ast.Call) -> None:
        name = self.qualname(node.func) or ""
        last = node.func.attr if isinstance(node.func, ast.Attribute) else name.rsplit(".", 1)[-1]
        if _root_name(node.func) not in self.aliases and "." in name and not name.startswith("get_ipython()"):
            name = "<local>." + name  # a method on a local object, not on an imported module
        args = node.args
        first = args[0] if args else None
        if (
            name in ("exec", "eval", "compile", "__import__", "builtins.exec", "builtins.eval")
            and first is not None
        ):
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                self.flag(node, "dynamic_exec", f"{last}() of a dynamic string")
        elif name.startswith("get_ipython()."):
            self._ipython(node, last, first)
        elif name in _SHELL_CALLS or name.startswith(_SHELL_PREFIXES):
            text = " ".join(s for s in (_literal_text(a) for a in args) if s)
            if name.startswith(("subprocess.", "os.")) and _INSTALL_WORDS.search(" " + text):
                self.flag(node, "package_install", f"installs packages via {name}")
            elif name != "subprocess.CompletedProcess":
                self.flag(node, "shell", f"shell escape: {name}()")
        elif name in ("pip.main", "pip._internal.main", "pip._internal.cli.main.main"):
            self.flag(node, "package_install", f"installs packages via {name}()")
        elif name.startswith(_NETWORK_PREFIXES) and not name.endswith(_HARMLESS_NETWORK):
            url = _literal_text(first) if first is not None else None
            if not (url and _URL.match(url) and self.host_allowed(url)):
                self.flag(node, "network", f"network access: {name}()")
        elif name in _DELETE_CALLS:
            self.check_path(node, first, "file_delete", f"{name}()")
        elif name in _MOVE_CALLS:
            if name in ("shutil.move", "os.rename", "os.replace"):
                self.check_path(node, first, "file_delete", f"{name}() moves a file from")
            self.check_path(
                node, args[1] if len(args) > 1 else _kw(node, "dst"), "file_write", f"{name}() writes"
            )
        elif name in ("open", "io.open", "builtins.open", "codecs.open") or (
            last == "open"
            and isinstance(node.func, ast.Attribute)
            and name not in ("os.open",)
            and self.literal_path(node.func.value) is not None
        ):
            self._open(node, name)
        elif name == "os.open" and len(args) > 1:
            flags = ast.unparse(args[1])
            if any(f in flags for f in ("O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC")):
                self.check_path(node, first, "file_write", "os.open() for writing")
        elif name in _WRITE_CALLS:
            index = _WRITE_CALLS[name]
            target = (
                args[index] if index is not None and len(args) > index else _kw(node, "f", "filename", "file")
            )
            self.check_path(node, target, "file_write", f"{name}() writes")
        elif isinstance(node.func, ast.Attribute) and last in _DELETE_METHODS:
            self.check_path(node, node.func.value, "file_delete", f"{last}()")
        elif isinstance(node.func, ast.Attribute) and last in _WRITE_METHODS:
            index = _WRITE_METHODS[last]
            target = (
                node.func.value
                if index == -1
                else (args[index] if len(args) > index else _kw(node, "path", "path_or_buf", "fname"))
            )
            self.check_path(node, target, "file_write", f"{last}() writes")
        self.generic_visit(node)

    def _ipython(self, node: ast.Call, method: str, first: ast.AST | None) -> None:
        magic = (_literal_text(first) or "").split(" ")[0] if first is not None else ""
        command = " ".join(s for s in (_literal_text(a) for a in node.args) if s)
        if method in ("system", "getoutput", "system_piped", "system_raw"):
            rule = "package_install" if _INSTALL_WORDS.search(" " + command) else "shell"
            self.flag(node, rule, f"shell escape: get_ipython().{method}()")
        elif method in ("run_line_magic", "run_cell_magic", "magic"):
            if magic in _INSTALL_MAGICS:
                self.flag(node, "package_install", f"installs packages via %{magic}")
            elif magic in _SHELL_MAGICS or not magic:
                self.flag(node, "shell", f"shell escape: get_ipython().{method}({magic!r})")
        elif method in ("run_cell", "ex", "ev"):
            self.flag(node, "dynamic_exec", f"get_ipython().{method}() runs code not shown")

    def _open(self, node: ast.Call, name: str) -> None:
        is_method = name not in ("open", "io.open", "builtins.open", "codecs.open")
        path_node = node.func.value if is_method else (node.args[0] if node.args else _kw(node, "file"))  # type: ignore[union-attr]
        mode_index = 0 if is_method else 1
        mode_node = node.args[mode_index] if len(node.args) > mode_index else _kw(node, "mode")
        if mode_node is None:
            return  # read mode
        mode = _literal_text(mode_node)
        if mode is not None and not any(c in mode for c in "wax+"):
            return
        self.check_path(
            node, path_node, "file_write", f"open(..., {mode!r})" if mode else "open() for writing"
        )


def _outside(path: str, run_dir: str) -> bool:
    """Whether ``path`` (relative paths count from the run folder) leaves ``run_dir``."""
    path = os.path.expanduser(path)
    full = os.path.realpath(path if os.path.isabs(path) else os.path.join(run_dir, path))
    return not (full == run_dir or full.startswith(run_dir.rstrip(os.sep) + os.sep))


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _kw(node: ast.Call, *names: str) -> ast.AST | None:
    for keyword in node.keywords:
        if keyword.arg in names:
            return keyword.value
    return None


def _literal_text(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        parts = [_literal_text(e) for e in node.elts]
        return " ".join(p for p in parts if p)
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        )
    return None
