/**
 * automl-agent-jupyter: frontend half of the kernel <-> JupyterLab comm protocol.
 *
 * The kernel (automl_agent_jupyter.notebook.bridge.Bridge) opens a comm on the target
 * "automl_agent_jupyter". We answer "hello", then serve requests:
 *   insert_and_run  {id, after_cell_id, cells: [{source, metadata}]}
 *   update_and_run  {id, cell_id, source}
 *   run_existing    {id, run_id, cells: [{stage, source}]}  (resume: run the generated cells already in the
 *                   notebook, the last copy of each stage, with the given sources; nothing is inserted)
 *   insert          {id, after_cell_id, cells: [{source, metadata, outputs}]}  (cells that ran elsewhere, a
 *                   race's worker process: inserted with their outputs, not run; answered by run_complete)
 *   abort           {id}
 * and report back cell_result {id, index, cell_id, status, ename, evalue, execution_count}
 * after each cell and run_complete {id, ok} at the end. Every message carries "v" (the protocol
 * version, PROTOCOL_VERSION here and in bridge.py); unknown kinds are ignored. When the kernel's
 * "v" is another version, the extension says so in one line (frontend_error and the browser console)
 * and serves no request: the Python package and this extension must be upgraded together.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { CodeCell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import type { IOutput } from '@jupyterlab/nbformat';

import packageJson from '../package.json';

export const TARGET_NAME = 'automl_agent_jupyter';
export const PROTOCOL_VERSION = 1;
export const VERSION: string = packageJson.version;

// ---------------------------------------------------------------- the messages (bridge.py)
/** Plain JSON, as a comm message carries it. */
export type JSONValue =
  | string
  | number
  | boolean
  | null
  | JSONValue[]
  | { [key: string]: JSONValue };

/** A cell the kernel asks for: its source and the metadata that names the run and stage (and, for `insert`,
 * the nbformat outputs it gave where it ran). */
export interface ICellSpec {
  source: string;
  metadata?: { [key: string]: JSONValue };
  outputs?: { [key: string]: JSONValue }[];
}

/** Kernel -> frontend: the comm's open message. */
export interface IOpenMsg {
  v: number;
  kind: 'open';
  version?: string;
}

export interface IInsertAndRunMsg {
  v: number;
  kind: 'insert_and_run';
  id: string;
  after_cell_id: string | null;
  cells: ICellSpec[];
}

export interface IInsertMsg {
  v: number;
  kind: 'insert';
  id: string;
  after_cell_id: string | null;
  cells: ICellSpec[];
}

export interface IUpdateAndRunMsg {
  v: number;
  kind: 'update_and_run';
  id: string;
  cell_id: string;
  source: string;
}

export interface IRunExistingMsg {
  v: number;
  kind: 'run_existing';
  id: string;
  run_id: string;
  cells: { stage: string; source?: string }[];
}

export interface IAbortMsg {
  v: number;
  kind: 'abort';
  id: string;
}

/** Kernel -> frontend requests. */
export type KernelRequest =
  | IInsertAndRunMsg
  | IInsertMsg
  | IUpdateAndRunMsg
  | IRunExistingMsg
  | IAbortMsg;

/** What running one cell gave. */
export interface ICellOutcome {
  status: 'ok' | 'error';
  ename?: string;
  evalue?: string;
  execution_count: number | null;
}

/** Frontend -> kernel messages ("v" is added by send). */
export type FrontendMessage =
  | { kind: 'hello'; frontend: 'jupyterlab'; version: string }
  | ({ kind: 'cell_result'; id: string; index: number; cell_id: string } & ICellOutcome)
  | { kind: 'run_complete'; id: string; ok: boolean }
  | { kind: 'frontend_error'; id?: string; message: string };

/** The one line that says the kernel's package and this extension speak other protocol versions. */
export function versionMismatch(kernelV: unknown, kernelVersion?: unknown): string {
  if (kernelV === PROTOCOL_VERSION) {
    return '';
  }
  const python = kernelVersion ? ` ${String(kernelVersion)}` : '';
  return (
    `automl-agent-jupyter: the Python package${python} speaks comm protocol v${String(kernelV)}, ` +
    `this JupyterLab extension ${VERSION} speaks v${PROTOCOL_VERSION}: install the same version of both ` +
    '(pip install -U automl-agent-jupyter) and reload JupyterLab'
  );
}

function isRequest(data: unknown): data is KernelRequest {
  const kind = (data as { kind?: unknown } | null)?.kind;
  return (
    kind === 'insert_and_run' ||
    kind === 'insert' ||
    kind === 'update_and_run' ||
    kind === 'run_existing' ||
    kind === 'abort'
  );
}

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
    private readonly comm: Kernel.IComm,
    open?: Partial<IOpenMsg>
  ) {
    this.mismatch = open ? versionMismatch(open.v, open.version) : '';
    if (this.mismatch) {
      console.warn(this.mismatch);
    }
    comm.onMsg = msg => this.onMsg(msg);
    comm.onClose = () => {
      this.closed = true;
      for (const req of this.requests.values()) {
        req.aborted = true;
      }
    };
    this.send({ kind: 'hello', frontend: 'jupyterlab', version: VERSION });
  }

  private send(data: FrontendMessage): void {
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
    const data: unknown = msg.content.data ?? {};
    if (!isRequest(data)) {
      return; // unknown kinds are ignored (forward compatibility)
    }
    const mismatch = versionMismatch(data.v);
    if (mismatch) {
      this.send({ kind: 'frontend_error', id: data.id, message: mismatch });
      return;
    }
    const run = async () => {
      switch (data.kind) {
        case 'insert_and_run':
          await this.insertAndRun(data);
          break;
        case 'insert':
          this.insertOnly(data);
          break;
        case 'update_and_run':
          await this.updateAndRun(data);
          break;
        case 'run_existing':
          await this.runExisting(data);
          break;
        case 'abort':
          this.abort(data);
          break;
      }
    };
    run().catch((err: unknown) => {
      console.error('automl-agent-jupyter:', err);
      this.send({
        kind: 'frontend_error',
        id: data.id,
        message: `${data.kind}: ${err instanceof Error ? err.message : String(err)}`
      });
    });
  }

  /** Resume: run the run's generated cells that are already in the notebook (the last copy of each
   * stage: a repair inserts below), their sources replaced; a stage without a cell reports CellMissing. */
  private async runExisting(data: IRunExistingMsg): Promise<void> {
    const id = String(data.id);
    const model = this.panel.content.model;
    if (!model || this.requests.has(id)) {
      return;
    }
    const cells = Array.isArray(data.cells) ? data.cells : [];
    const cellIds = cells.map(want => {
      let found = '';
      for (const c of model.sharedModel.cells) {
        const meta = c.getMetadata('automl_agent') as { run_id?: string; stage?: string } | undefined;
        if (c.cell_type === 'code' && meta?.run_id === data.run_id && meta?.stage === want.stage) {
          found = c.getId();
        }
      }
      const cell = found ? this.findCell(found) : undefined;
      if (cell && typeof want.source === 'string') {
        cell.model.sharedModel.setSource(want.source);
      }
      return found;
    });
    const req: IRequest = {
      id,
      cellIds,
      next: 0,
      running: false,
      aborted: false,
      finished: false
    };
    this.requests.set(id, req);
    await this.runFrom(req, 0);
  }

  /** Insert `cells` below `afterCellId` (else at the end) in one transaction (one undo step), with their
   * outputs when given, and save the notebook; the new cells' ids. */
  private insertBelow(
    model: NonNullable<NotebookPanel['content']['model']>,
    afterCellId: string | null,
    cells: ICellSpec[]
  ): string[] {
    const shared = model.sharedModel;
    let index = shared.cells.length - 1;
    if (afterCellId) {
      const found = shared.cells.findIndex(c => c.getId() === afterCellId);
      if (found >= 0) {
        index = found;
      }
    }
    const inserted = shared.insertCells(
      index + 1,
      cells.map(c => ({
        cell_type: 'code' as const,
        source: String(c.source ?? ''),
        metadata: { ...(c.metadata ?? {}) },
        outputs: (Array.isArray(c.outputs) ? c.outputs : []) as unknown as IOutput[],
        execution_count: null
      }))
    );
    // Saved at once: the generated cells outlive a closed tab or a reload (then `%automl resume` reruns them).
    this.panel.context.save().catch((err: unknown) => {
      console.warn('automl-agent-jupyter: could not save the notebook after inserting cells', err);
    });
    return inserted.map(c => c.getId());
  }

  /** Cells that ran elsewhere (a race's worker): inserted with their outputs, not run; then run_complete. */
  private insertOnly(data: IInsertMsg): void {
    const id = String(data.id);
    const model = this.panel.content.model;
    if (!model || this.requests.has(id)) {
      return;
    }
    const cellIds = this.insertBelow(model, data.after_cell_id, Array.isArray(data.cells) ? data.cells : []);
    const req: IRequest = { id, cellIds, next: cellIds.length, running: false, aborted: false, finished: false };
    this.requests.set(id, req);
    this.finish(req, true);
  }

  private async insertAndRun(data: IInsertAndRunMsg): Promise<void> {
    const id = String(data.id);
    const cells: ICellSpec[] = Array.isArray(data.cells) ? data.cells : [];
    const model = this.panel.content.model;
    if (!model || this.requests.has(id)) {
      return;
    }
    const req: IRequest = {
      id,
      cellIds: this.insertBelow(model, data.after_cell_id, cells),
      next: 0,
      running: false,
      aborted: false,
      finished: false
    };
    this.requests.set(id, req);
    await this.runFrom(req, 0);
  }

  private async updateAndRun(data: IUpdateAndRunMsg): Promise<void> {
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

  private abort(data: IAbortMsg): void {
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

  private async runOne(cellId: string): Promise<ICellOutcome> {
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
      const content = reply.content;
      const count = 'execution_count' in content ? content.execution_count : null;
      if (content.status === 'ok') {
        return { status: 'ok', execution_count: count ?? null };
      }
      if (content.status === 'error') {
        return {
          status: 'error',
          ename: content.ename,
          evalue: content.evalue ?? '',
          execution_count: count ?? null
        };
      }
      return { status: 'error', ename: 'Aborted', evalue: '', execution_count: count ?? null };
    } catch (err: unknown) {
      return {
        status: 'error',
        ename: 'Canceled',
        evalue: err instanceof Error ? err.message : String(err),
        execution_count: null
      };
    }
  }

  private closed = false;
  private readonly mismatch: string;
  private readonly requests = new Map<string, IRequest>();
}

const registered = new WeakSet<Kernel.IKernelConnection>();

function registerOn(panel: NotebookPanel): void {
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel || registered.has(kernel)) {
    return;
  }
  registered.add(kernel);
  kernel.registerCommTarget(TARGET_NAME, (comm, msg) => {
    new BridgeSession(panel, comm, msg.content.data as Partial<IOpenMsg>);
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
