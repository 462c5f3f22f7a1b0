/**
 * automl-agent-jupyter: frontend half of the kernel <-> JupyterLab comm protocol.
 *
 * The kernel (automl_agent_jupyter.notebook.bridge.Bridge) opens a comm on the target
 * "automl_agent_jupyter". We answer "hello", then serve requests:
 *   insert_and_run  {id, after_cell_id, cells: [{source, metadata}]}
 *   update_and_run  {id, cell_id, source}
 *   abort           {id}
 * and report back cell_result {id, index, cell_id, status, ename, evalue, execution_count}
 * after each cell and run_complete {id, ok} at the end. Every message carries "v": 1;
 * unknown kinds are ignored.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { CodeCell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';

import packageJson from '../package.json';

export const TARGET_NAME = 'automl_agent_jupyter';
export const PROTOCOL_VERSION = 1;
export const VERSION: string = packageJson.version;

type JSONDict = { [key: string]: any };

interface IRequest {
  id: string;
  cellIds: string[];
  /** Index of the next cell to run. */
  next: number;
  running: boolean;
  aborted: boolean;
  finished: boolean;
}

/** One comm opened by one kernel, bound to the notebook panel whose kernel opened it. */
class BridgeSession {
  constructor(
    private readonly panel: NotebookPanel,
    private readonly comm: Kernel.IComm
  ) {
    comm.onMsg = msg => this.onMsg(msg);
    comm.onClose = () => {
      this.closed = true;
      for (const req of this.requests.values()) {
        req.aborted = true;
      }
    };
    this.send({ kind: 'hello', frontend: 'jupyterlab', version: VERSION });
  }

  private send(data: JSONDict): void {
    if (this.closed || this.comm.isDisposed) {
      return;
    }
    try {
      this.comm.send({ v: PROTOCOL_VERSION, ...data });
    } catch (err) {
      console.error('automl-agent-jupyter: cannot send', data, err);
    }
  }

  private onMsg(msg: KernelMessage.ICommMsgMsg): void {
    const data = (msg.content.data ?? {}) as JSONDict;
    const run = async () => {
      switch (data.kind) {
        case 'insert_and_run':
          await this.insertAndRun(data);
          break;
        case 'update_and_run':
          await this.updateAndRun(data);
          break;
        case 'abort':
          this.abort(data);
          break;
        default:
          // unknown kinds are ignored (forward compatibility)
          break;
      }
    };
    run().catch(err => {
      console.error('automl-agent-jupyter:', err);
      this.send({
        kind: 'frontend_error',
        id: data.id,
        message: `${data.kind}: ${err?.message ?? err}`
      });
    });
  }

  private async insertAndRun(data: JSONDict): Promise<void> {
    const id = String(data.id);
    const cells: JSONDict[] = Array.isArray(data.cells) ? data.cells : [];
    const model = this.panel.content.model;
    if (!model || this.requests.has(id)) {
      return;
    }
    const shared = model.sharedModel;
    let index = shared.cells.length - 1;
    if (data.after_cell_id) {
      const found = shared.cells.findIndex(c => c.getId() === data.after_cell_id);
      if (found >= 0) {
        index = found;
      }
    }
    // Insert every cell with its source and metadata in one transaction (one undo step).
    const inserted = shared.insertCells(
      index + 1,
      cells.map(c => ({
        cell_type: 'code' as const,
        source: String(c.source ?? ''),
        metadata: { ...(c.metadata ?? {}) }
      }))
    );
    const req: IRequest = {
      id,
      cellIds: inserted.map(c => c.getId()),
      next: 0,
      running: false,
      aborted: false,
      finished: false
    };
    this.requests.set(id, req);
    await this.runFrom(req, 0);
  }

  private async updateAndRun(data: JSONDict): Promise<void> {
    const req = this.requests.get(String(data.id));
    if (!req || req.finished || req.aborted || req.running) {
      return;
    }
    const index = req.cellIds.indexOf(String(data.cell_id));
    if (index < 0) {
      return;
    }
    const cell = this.findCell(req.cellIds[index]);
    if (cell) {
      cell.model.sharedModel.setSource(String(data.source ?? ''));
    }
    await this.runFrom(req, index);
  }

  private abort(data: JSONDict): void {
    const req = this.requests.get(String(data.id));
    if (!req || req.finished) {
      return;
    }
    req.aborted = true;
    if (!req.running) {
      this.finish(req, false);
    }
    // A running loop sees `aborted` after its current cell and finishes itself.
  }

  private finish(req: IRequest, ok: boolean): void {
    if (req.finished) {
      return;
    }
    req.finished = true;
    req.running = false;
    this.send({ kind: 'run_complete', id: req.id, ok });
  }

  private findCell(cellId: string): CodeCell | undefined {
    const cell = this.panel.content.widgets.find(w => w.model.id === cellId);
    return cell instanceof CodeCell ? cell : undefined;
  }

  /** Run the request's cells from `start`, in order; stop at the first error. */
  private async runFrom(req: IRequest, start: number): Promise<void> {
    req.running = true;
    for (let i = start; i < req.cellIds.length; i++) {
      if (req.aborted || this.closed) {
        this.finish(req, false);
        return;
      }
      req.next = i;
      const result = await this.runOne(req.cellIds[i]);
      const last = i === req.cellIds.length - 1;
      const failed = result.status !== 'ok';
      if (failed || last) {
        // Not running any more *before* the kernel hears about it, so that an
        // update_and_run/abort answering this result is never refused.
        req.running = false;
      }
      this.send({
        kind: 'cell_result',
        id: req.id,
        index: i,
        cell_id: req.cellIds[i],
        ...result
      });
      if (failed) {
        return; // wait for update_and_run or abort from the kernel
      }
    }
    this.finish(req, !req.aborted);
  }

  private async runOne(cellId: string): Promise<JSONDict> {
    const cell = this.findCell(cellId);
    if (!cell) {
      return {
        status: 'error',
        ename: 'CellMissing',
        evalue: `cell ${cellId} is no longer in the notebook`,
        execution_count: null
      };
    }
    const notebook = this.panel.content;
    const deletedCells = notebook.model?.deletedCells ?? [];
    try {
      const reply = await CodeCell.execute(cell, this.panel.sessionContext, {
        deletedCells: [...deletedCells],
        recordTiming: notebook.notebookConfig.recordTiming
      });
      deletedCells.splice(0, deletedCells.length);
      if (!reply) {
        const hasKernel = !!this.panel.sessionContext.session?.kernel;
        return hasKernel || !cell.model.sharedModel.getSource().trim()
          ? { status: 'ok', execution_count: null }
          : {
              status: 'error',
              ename: 'NoKernel',
              evalue: 'the notebook has no kernel',
              execution_count: null
            };
      }
      const content = reply.content as JSONDict;
      if (content.status === 'ok') {
        return { status: 'ok', execution_count: content.execution_count ?? null };
      }
      return {
        status: 'error',
        ename: content.ename ?? (content.status === 'aborted' ? 'Aborted' : 'Error'),
        evalue: content.evalue ?? '',
        execution_count: content.execution_count ?? null
      };
    } catch (err: any) {
      return {
        status: 'error',
        ename: 'Canceled',
        evalue: String(err?.message ?? err),
        execution_count: null
      };
    }
  }

  private closed = false;
  private readonly requests = new Map<string, IRequest>();
}

const registered = new WeakSet<Kernel.IKernelConnection>();

function registerOn(panel: NotebookPanel): void {
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel || registered.has(kernel)) {
    return;
  }
  registered.add(kernel);
  kernel.registerCommTarget(TARGET_NAME, comm => {
    new BridgeSession(panel, comm);
  });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'automl-agent-jupyter:plugin',
  description:
    'Inserts and runs AutoML-Agent cells below the cell that asked for them.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker) => {
    const watch = (panel: NotebookPanel) => {
      registerOn(panel);
      panel.sessionContext.kernelChanged.connect(() => registerOn(panel));
    };
    tracker.forEach(watch);
    tracker.widgetAdded.connect((_, panel) => watch(panel));
    console.log(`automl-agent-jupyter ${VERSION} is activated`);
  }
};

export default plugin;
