import sys

import pytest
from gitops.core import run


def test_captures_output_and_exit_code() -> None:
    result = run.run([sys.executable, "-c", "print('out'); import sys; sys.exit(0)"])
    assert result.stdout.strip() == "out"
    assert result.returncode == 0


def test_failure_names_command_exit_code_and_stderr_tail() -> None:
    script = "import sys; [print(f'line {i}', file=sys.stderr) for i in range(30)]; sys.exit(3)"
    with pytest.raises(run.CommandError) as info:
        run.run([sys.executable, "-c", script])
    message = str(info.value)
    assert "exit code 3" in message
    assert "line 29" in message
    assert "line 5\n" not in message  # only the tail, not the whole stream
    assert info.value.result is not None and info.value.result.returncode == 3


def test_shell_strings_are_refused() -> None:
    with pytest.raises(TypeError):
        run.run("echo hi")  # type: ignore[arg-type]


def test_missing_program_is_one_sentence() -> None:
    with pytest.raises(run.CommandError, match="no-such-tool-xyz is not installed"):
        run.run(["no-such-tool-xyz"])


def test_timeout_is_reported() -> None:
    with pytest.raises(run.CommandError, match=r"did not finish within 0\.5 s"):
        run.run([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.5)


def test_secret_goes_through_stdin_not_argv() -> None:
    result = run.run([sys.executable, "-c", "import sys; print(sys.stdin.read()[::-1])"],
                     input_text="s3cret")
    assert result.stdout.strip() == "terc3s"
    assert "s3cret" not in " ".join(result.argv)
