import { AWAIT_HANDOVER, type AwaitHandoverMessage, HANDOVER, type HandoverMessage } from '../ipc/messages';
import { primaryLink, type PrimaryLink } from '../ipc/primary-link';

/**
 * Pipelined start: asks the primary for the preload's outcome and waits for the answer. The
 * listener is attached before the request is sent, so the answer cannot be missed, however early
 * the preload ended.
 */
export function awaitHandover(link: PrimaryLink | null = primaryLink()): Promise<HandoverMessage> {
  return new Promise((resolve, reject) => {
    if (!link) return reject(new Error('this worker has no IPC channel to its primary'));
    const stop = link.listen({
      [HANDOVER]: (message) => {
        stop();
        resolve(message);
      },
    });
    const request: AwaitHandoverMessage = { type: AWAIT_HANDOVER };
    void link.send(request);
  });
}
