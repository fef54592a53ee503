import { describe, expect, it } from 'vitest';
import { StderrKeeper } from './temporal-server.js';

describe('StderrKeeper', () => {
  it('names the error lines and the panic of a crashed start, not the end of its stack trace', () => {
    const keeper = new StderrKeeper();
    keeper.add(
      'time=2026-11-27T22:03:58.101 level=ERROR msg="Failed to start gRPC listener" error="listen tcp 127.0.0.1:41877: bind: address already in use"\n',
    );
    keeper.add('panic: runtime error: invalid memory address or nil pointer dereference\n');
    keeper.add('goroutine 1 [running]:\n'.repeat(300));
    keeper.add('main.main()\n\t/root/go/pkg/mod/github.com/temporalio/cli@v1.5.1/cmd/temporal/main.go:18 +0x96\n');

    const reason = keeper.reason();
    expect(reason).toContain('Failed to start gRPC listener');
    expect(reason).toContain('address already in use');
    expect(reason).toContain('panic: runtime error');
    expect(reason).not.toContain('main.go');
  });

  it('falls back to the last lines when nothing reads as an error', () => {
    const keeper = new StderrKeeper();
    keeper.add('one\ntwo\nthree\nfour\n');
    expect(keeper.reason()).toBe('two | three | four');
    expect(new StderrKeeper().reason()).toBe('no output');
  });
});
