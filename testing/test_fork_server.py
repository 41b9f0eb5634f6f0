"""The tuning process's fork server (``tiledsl/autotuner/fork_server.py``): tuning runs after the first fork their
workers from it; a worker sees the environment of the moment it is forked; a change the server's imports may
depend on, or a dead server, gives a new one; it goes away with the tuning process; and it can be switched off."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import tiledsl
from tiledsl.autotuner import fork_server

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_autotune_helpers import SIZE, matmul  # noqa: E402

CONFIGS = [{"block_M": 32, "block_N": 32}, {"block_M": 64, "block_N": 32}]


@pytest.fixture
def fresh_server(cache_dir, monkeypatch):
    """No fork server at the start (nor after the test); one compile worker, every run tuned afresh."""
    fork_server.shutdown()
    monkeypatch.setenv("TILEDSL_AUTO_TUNING_CPU_COUNTS", "1")
    monkeypatch.setenv("TILEDSL_AUTO_TUNING_FORCE_RETUNE", "1")
    monkeypatch.delenv("TILEDSL_WORKER_FORK_SERVER", raising=False)
    yield
    fork_server.shutdown()


def _probed_reference(A, B):
    """The reference, right only in a worker forked with TILEDSL_TEST_PROBE=right (it runs in the benchmark
    worker: a worker with a stale environment fails every candidate's check)."""
    import os

    return A @ B if os.environ.get("TILEDSL_TEST_PROBE") == "right" else A @ B + 1


def _tune(configs=CONFIGS):
    tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=configs).set_compile_args(target="llvm")
    tuner.set_profile_args(warmup=1, rep=2, timeout=60, ref_prog=_probed_reference, top_k=2, retime_rounds=1)
    return tuner.set_kernel_parameters((SIZE, SIZE, SIZE)).run(quiet=True)


def _servers_started(monkeypatch) -> list:
    started = []
    real = fork_server.ForkServer.__init__

    def counting(self):
        started.append(self)
        real(self)
    monkeypatch.setattr(fork_server.ForkServer, "__init__", counting)
    return started


def test_one_server_across_runs_until_the_environment_changes_or_it_dies(fresh_server, monkeypatch):
    started = _servers_started(monkeypatch)
    monkeypatch.setenv("TILEDSL_TEST_PROBE", "right")
    first = _tune([CONFIGS[0], {"variant": "crash"}])
    by_status = {t.status: t for t in first.trials}
    assert set(by_status) == {"ok", "crash"}
    assert "SIGSEGV" in by_status["crash"].reason, by_status["crash"].reason  # the server read its exit status
    server = fork_server.current_pid()
    assert server is not None and len(started) == 1

    monkeypatch.setenv("TILEDSL_TEST_PROBE", "wrong")  # a TILEDSL_ variable: read at call time, same server
    with pytest.raises(tiledsl.AutotuneError, match="wrong_result"):
        _tune()
    monkeypatch.setenv("TILEDSL_TEST_PROBE", "right")
    again = _tune()
    assert [t.status for t in again.trials] == ["ok", "ok"]
    assert fork_server.current_pid() == server and len(started) == 1
    a = torch.randn(SIZE, SIZE, dtype=torch.float16)
    torch.testing.assert_close(again.kernel(a, a).float(), a.float() @ a.float(), rtol=1e-2, atol=5e-2)

    monkeypatch.setenv("SOME_LIBRARY_SETTING", "1")  # may change what the server's imports did: a new server
    assert [t.status for t in _tune(CONFIGS[:1]).trials] == ["ok"]
    second = fork_server.current_pid()
    assert second not in (None, server) and len(started) == 2
    assert _gone_within(server)  # the old one was stopped

    os.kill(second, signal.SIGKILL)  # a server that died is replaced; the run does not notice
    assert [t.status for t in _tune(CONFIGS[:1]).trials] == ["ok"]
    assert fork_server.current_pid() not in (None, server, second) and len(started) == 3


def test_switched_off_no_server_is_started(fresh_server, monkeypatch):
    started = _servers_started(monkeypatch)
    monkeypatch.setenv("TILEDSL_WORKER_FORK_SERVER", "0")
    monkeypatch.setenv("TILEDSL_TEST_PROBE", "right")
    assert [t.status for t in _tune(CONFIGS[:1]).trials] == ["ok"]
    assert started == [] and fork_server.current_pid() is None


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (an exited process not yet reaped is a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _gone_within(pid: int, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while _running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_forked_child_gets_its_own_server_and_a_killed_tuner_leaves_none(cache_dir, tmp_path):
    """A child forked from the tuning process (a data loader's worker) never talks to its parent's server and leaves
    it running; a tuning process killed with SIGKILL leaves no fork server behind (run in a fresh process: forking
    this test process would fork its threads)."""
    script = tmp_path / "tune_fork_tune_die.py"
    script.write_text(textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(HERE)!r})
        os.environ["TILEDSL_AUTO_TUNING_CPU_COUNTS"] = "1"
        os.environ["TILEDSL_AUTO_TUNING_FORCE_RETUNE"] = "1"
        import tiledsl
        from tiledsl.autotuner import fork_server
        from test_autotune_helpers import SIZE, matmul, ref_matmul

        def tune():
            tuner = tiledsl.AutoTuner.from_kernel(matmul, configs=[{{"block_M": 32}}]).set_compile_args(target="llvm")
            tuner.set_profile_args(warmup=1, rep=1, timeout=60, ref_prog=ref_matmul)
            result = tuner.set_kernel_parameters(({SIZE}, {SIZE}, {SIZE})).run(quiet=True)
            return [t.status for t in result.trials] == ["ok"], fork_server.current_pid()

        print("parent", *tune(), flush=True)
        child = os.fork()
        if child == 0:
            print("child", *tune(), flush=True)
            fork_server.shutdown()
            os._exit(0)
        assert os.waitpid(child, 0)[1] == 0
        print("after", *tune(), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """))
    env = dict(os.environ, TILEDSL_CACHE_DIR=str(cache_dir))
    env.pop("TILEDSL_WORKER_FORK_SERVER", None)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    runs = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines()}
    assert all(runs[k][0] == "True" for k in ("parent", "child", "after")), proc.stdout
    assert runs["child"][1] != runs["parent"][1] and runs["after"][1] == runs["parent"][1], proc.stdout
    assert _gone_within(int(runs["parent"][1]))
