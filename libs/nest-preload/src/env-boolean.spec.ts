import { timelineFileFromEnv } from './control/control-paths';
import { booleanFromEnv, parseBooleanWord } from './env-boolean';
import { PreloadConfigError } from './errors/preload.error';
import { PreloadProcessContext } from './process-context';

describe('one yes/no reading for every variable of the library', () => {
  it.each([
    ['true', true],
    [' YES ', true],
    ['On', true],
    ['1', true],
    ['false', false],
    ['No', false],
    [' off', false],
    ['0', false],
    ['', undefined],
    [undefined, undefined],
    ['2', undefined],
    ['enabled', undefined],
  ])('parseBooleanWord(%p) is %p', (raw, expected) => {
    expect(parseBooleanWord(raw)).toBe(expected);
  });

  it('booleanFromEnv: unset gives the fallback, another word is refused naming the variable', () => {
    expect(booleanFromEnv({}, 'X', true)).toBe(true);
    expect(booleanFromEnv({ X: 'off' }, 'X', true)).toBe(false);
    expect(() => booleanFromEnv({ X: 'maybe' }, 'X', true)).toThrow(
      new PreloadConfigError('Invalid environment variable X="maybe": expected true or false (or 1/0, yes/no, on/off).'),
    );
  });

  it('NEST_PRELOAD_TIMELINE_FILE takes the same words (any case) before it takes a path', () => {
    expect(timelineFileFromEnv({ NEST_PRELOAD_TIMELINE_FILE: 'Off' })).toBe(false);
    expect(timelineFileFromEnv({ NEST_PRELOAD_TIMELINE_FILE: 'YES' })).toBeUndefined();
    expect(timelineFileFromEnv({ NEST_PRELOAD_TIMELINE_FILE: '/tmp/t.json' })).toBe('/tmp/t.json');
  });

  it('the flags the primary sets for its children are read the same way', () => {
    expect(PreloadProcessContext.fromEnv({ NEST_PRELOAD_ROLE: 'worker', NEST_PRELOAD_AWAIT_HANDOVER: 'true' }, 1).awaitHandover).toBe(true);
    expect(PreloadProcessContext.fromEnv({ NEST_PRELOAD_ROLE: 'worker', NEST_PRELOAD_AWAIT_HANDOVER: '0' }, 1).awaitHandover).toBe(false);
  });
});
