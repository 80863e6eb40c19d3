import { accessSync, constants } from 'node:fs';
import { createConnection } from 'node:net';
import { processAlive } from './process-alive';
import { CONTROL_PROTOCOL_VERSION, type ControlRequest, type ControlResponse } from './control.protocol';
import { readControlFile } from './control-server';

/** Why the CLI cannot reach a cluster, said plainly. */
export class ControlError extends Error {
  override name = 'ControlError';
}

/** A request without its envelope (`v`, `id`), one member per command. */
type Command = ControlRequest extends infer R ? (R extends unknown ? Omit<R, 'v' | 'id'> : never) : never;

/** Sends one command to the cluster whose control file is at `controlFile`; resolves with its result. */
export async function sendControl(controlFile: string, command: Command, timeoutMs = 10_000): Promise<unknown> {
  const file = readControlFile(controlFile);
  if (!file) {
    try {
      accessSync(controlFile, constants.R_OK);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EACCES')
        throw new ControlError(`permission denied on ${controlFile}: the cluster belongs to another user`);
      throw new ControlError(`no cluster is running here: there is no control file at ${controlFile} (start one, or pass --file)`);
    }
    throw new ControlError(`${controlFile} is not a nest-preload control file`);
  }
  if (!processAlive(file.pid))
    throw new ControlError(
      `the control file ${controlFile} is stale: its primary (pid ${file.pid}) is not running; the next start replaces it`,
    );
  const request = { v: CONTROL_PROTOCOL_VERSION, id: 1, ...command } as ControlRequest;
  return new Promise((resolve, reject) => {
    const socket = createConnection(file.socket);
    let buffered = '';
    const timer = setTimeout(
      () => fail(new ControlError(`the primary (pid ${file.pid}) did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      socket.end();
      const response = JSON.parse(buffered.slice(0, nl)) as ControlResponse;
      if (response.ok) resolve(response.result);
      else reject(new ControlError(`the primary refused: ${response.error}`));
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const why =
        error.code === 'EACCES'
          ? `permission denied on ${file.socket}: the cluster belongs to another user`
          : error.code === 'ECONNREFUSED' || error.code === 'ENOENT'
            ? `nothing answers on ${file.socket} (primary pid ${file.pid}): the control file is stale`
            : `cannot reach ${file.socket}: ${error.message}`;
      fail(new ControlError(why));
    });
  });
}
