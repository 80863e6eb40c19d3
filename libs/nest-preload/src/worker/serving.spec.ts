import type { Logger } from '@nestjs/common';
import { ServingLink } from './serving';

describe('ServingLink', () => {
  const added: Array<[string, (...args: unknown[]) => void]> = [];
  const before = { SIGTERM: process.listeners('SIGTERM'), SIGINT: process.listeners('SIGINT'), message: process.listeners('message') };
  afterEach(() => {
    for (const event of ['SIGTERM', 'SIGINT', 'message'] as const) {
      for (const l of process.listeners(event as NodeJS.Signals))
        if (!before[event].includes(l as never)) process.off(event as NodeJS.Signals, l as never);
    }
    for (const [event, l] of added.splice(0)) process.off(event as NodeJS.Signals, l);
  });
  const logger = () => ({ warn: jest.fn(), log: jest.fn(), error: jest.fn() }) as unknown as Logger & { warn: jest.Mock };

  it('warns when serve added its own SIGTERM listener (enableShutdownHooks would close the app twice)', () => {
    const log = logger();
    const link = new ServingLink(log);
    const nestHook = () => undefined;
    process.on('SIGTERM', nestHook);
    added.push(['SIGTERM', nestHook]);
    link.ready();
    expect(log.warn).toHaveBeenCalledWith(
      expect.stringContaining('app.enableShutdownHooks() (or another SIGTERM listener) was added in serve: drop it'),
    );
  });

  it("says nothing of a SIGTERM listener that was there before serve (proper-lockfile's signal-exit, added by a step's lock)", () => {
    const log = logger();
    const link = new ServingLink(log);
    const signalExit = () => undefined;
    process.on('SIGTERM', signalExit);
    added.push(['SIGTERM', signalExit]);
    link.serving();
    link.ready();
    expect(log.warn).not.toHaveBeenCalled();
  });

  it('warns of a listener serve added even when another was there before it', () => {
    const log = logger();
    const link = new ServingLink(log);
    const signalExit = () => undefined;
    const nestHook = () => undefined;
    process.on('SIGTERM', signalExit);
    added.push(['SIGTERM', signalExit]);
    link.serving();
    process.on('SIGTERM', nestHook);
    added.push(['SIGTERM', nestHook]);
    link.ready();
    expect(log.warn).toHaveBeenCalledWith(expect.stringContaining('was added in serve: drop it'));
  });

  it('says nothing when only its own listener is there', () => {
    for (const l of before.SIGTERM) process.off('SIGTERM', l as never);
    try {
      const log = logger();
      new ServingLink(log).ready();
      expect(log.warn).not.toHaveBeenCalled();
    } finally {
      for (const l of before.SIGTERM) process.on('SIGTERM', l as never);
    }
  });
});
