import { AWAIT_HANDOVER, type AwaitHandoverMessage, HANDOVER, type HandoverMessage, isMessage } from '../supervisor/cluster.messages';

/**
 * Pipelined start: asks the primary for the preload's outcome and waits for the answer. The
 * listener is attached before the request is sent, so the answer cannot be missed, however early
 * the preload ended.
 */
export function awaitHandover(proc: NodeJS.Process = process): Promise<HandoverMessage> {
  return new Promise((resolve, reject) => {
    if (!proc.send) return reject(new Error('this worker has no IPC channel to its primary'));
    const onMessage = (message: unknown) => {
      if (!isMessage<HandoverMessage>(message, HANDOVER)) return;
      proc.off('message', onMessage);
      resolve(message);
    };
    proc.on('message', onMessage);
    const request: AwaitHandoverMessage = { type: AWAIT_HANDOVER };
    proc.send(request);
  });
}
