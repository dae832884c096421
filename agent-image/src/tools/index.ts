// The operator tools of one agent runtime: shell, files, HTTP and a browser over one workspace, run
// by a ToolRunner that enforces the tier and reports every call.
import type { ToolSettings } from '../config.js';
import { BrowserTool } from './browser-tool.js';
import { FileTool } from './file-tool.js';
import { HttpTool } from './http-tool.js';
import { ShellTool } from './shell-tool.js';
import { ToolRunner, type ToolCallSink } from './tool-runner.js';
import { Workspace } from './workspace.js';

export { ToolRunner } from './tool-runner.js';
export type { ToolCallRequest, ToolEntitlements, ToolRun, ToolCallSink } from './tool-runner.js';
export type { ToolResult } from './tool.js';
export type { HttpAnswer } from './http-tool.js';

export function createToolRunner(settings: ToolSettings, sink: ToolCallSink): ToolRunner {
  const workspace = new Workspace(settings.workspace);
  return new ToolRunner(
    [new ShellTool(workspace), new FileTool(workspace), new HttpTool(settings), new BrowserTool(workspace, settings)],
    sink,
  );
}
