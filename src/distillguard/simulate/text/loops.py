"""Tool loops over a made-up repository: the prior steps a coding agent sends back each turn.

A step is an abstract action (view, search, list, test, shell, edit) with a realistic result:
real Python from HumanEval as file contents, pytest output, git and shell output. Each agent
spells the action with its own tool and argument names (``AGENTS`` in ``tools``).

>>> import random
>>> from distillguard.simulate.text.sources import load_sources
>>> msgs = tool_loop(random.Random(2), "coder", load_sources().humaneval, 3)
>>> [m["role"] for m in msgs]
['assistant', 'tool', 'assistant', 'tool', 'assistant', 'tool']
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, TypeVar

from distillguard.simulate.text.recipes.turns import Message, assistant, tool_call, tool_result
from distillguard.simulate.text.sources import CodeTask

T = TypeVar("T")
PKGS = ("core", "api", "utils", "parser", "models", "cli", "storage", "auth", "billing", "sync")
MODS = (
    "handlers",
    "config",
    "client",
    "schema",
    "cache",
    "tasks",
    "render",
    "validators",
    "io",
    "metrics",
    "routes",
    "service",
    "errors",
    "types",
    "helpers",
)
CMDS = (
    "git status",
    "git diff --stat",
    "git log --oneline -5",
    "ls -la",
    "python --version",
    "pip install -e .",
    "ruff check .",
    "mypy src",
    "cat pyproject.toml",
    "make test",
)
_ERRORS = ("AssertionError", "TypeError", "IndexError: list index out of range", "KeyError")
NOTES = (
    "Let me look at the relevant file first.",
    "I'll search for where this is defined.",
    "Now let me run the tests to see the failure.",
    "I'll make the fix.",
    "Let me check the project layout.",
    "Running the test suite again to confirm.",
    "The error points to the parsing logic. Let me inspect it.",
    None,
    None,
    None,
    None,
)


def _pick(rng: random.Random, seq: Sequence[T]) -> T:
    # random.choice costs ~1 µs; tool loops make dozens of picks per render.
    return seq[int(rng.random() * len(seq))]


def _int(rng: random.Random, lo: int, hi: int) -> int:
    return lo + int(rng.random() * (hi - lo + 1))


def _path(rng: random.Random, root: str) -> str:
    return f"{root}/{_pick(rng, PKGS)}/{_pick(rng, MODS)}.py"


_STARTS = (1, 1, 1, 8, 15, 23, 31, 42)
_VIEWS: dict[tuple[str, int], str] = {}


def _view(rng: random.Random, code: CodeTask, numbered: bool) -> str:
    """The file as the tool shows it (numbered like `cat -n` for some agents); cached."""
    start = _pick(rng, _STARTS) if numbered else 0
    key = (code.task_id, start)
    text = _VIEWS.get(key)
    if text is None:
        lines = (code.prompt.rstrip() + "\n" + code.solution).splitlines()
        if numbered:
            text = "\n".join(f"{i + start:>6}\t{line}" for i, line in enumerate(lines))
        else:
            text = "\n".join(lines)
        _VIEWS[key] = text
    return text


def _pytest(rng: random.Random, path: str, fn: str) -> str:
    n = _int(rng, 8, 240)
    secs = f"{rng.uniform(0.2, 30):.2f}s"
    if rng.random() < 0.45:
        return f"{'.' * min(n, 60)}\n{n} passed in {secs}"
    test = path.replace("src/", "tests/test_").replace("/", "_", 1)
    return (
        f"{'.' * min(n, 40)}F{'.' * _int(rng, 0, 9)}\n=================================== "
        f"FAILURES ===================================\n___ test_{fn}_edge_case ___\n\n"
        f"    def test_{fn}_edge_case():\n>       assert {fn}([]) == []\nE       "
        f"{_pick(rng, _ERRORS)}"
        f"\n\n{test}:{_int(rng, 10, 300)}: {_pick(rng, ('AssertionError', 'TypeError'))}\n"
        f"=========================== short test summary info ============================\n"
        f"FAILED {test}::test_{fn}_edge_case\n1 failed, {n} passed in {secs}"
    )


def _shell(rng: random.Random, cmd: str, root: str) -> str:
    if cmd.startswith("git status"):
        return (
            f"On branch {_pick(rng, ('main', 'fix/parser', 'feat/export'))}\nChanges not staged "
            f"for commit:\n  modified:   {_path(rng, root)}\n\nno changes added to commit"
        )
    if cmd.startswith("git log"):
        return "\n".join(
            f"{rng.getrandbits(28):07x} {m}"
            for m in rng.sample(
                (
                    "Fix typo in README",
                    "Add retry to client",
                    "Bump deps",
                    "Refactor config loading",
                    "Handle empty input",
                    "Add CLI flag --json",
                    "Merge pull request #142",
                ),
                5,
            )
        )
    if cmd.startswith("ls"):
        return "\n".join(("README.md", "pyproject.toml", root + "/", "tests/", "docs/", ".github/"))
    if cmd.startswith("ruff") or cmd.startswith("mypy"):
        return _pick(
            rng,
            (
                "All checks passed!",
                f"Success: no issues found in {_int(rng, 9, 90)} source files",
                f"{_path(rng, root)}:{_int(rng, 3, 200)}:5: F401 "
                "`os` imported but unused\nFound 1 error.",
            ),
        )
    return _pick(
        rng,
        (
            "",
            "ok",
            "Successfully installed project-0.1.0",
            "Python 3.11.9",
            '[tool.poetry]\nname = "project"\nversion = "0.3.1"',
        ),
    )


def _spell(agent: str, action: str, a: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The tool name and arguments one agent uses for an abstract action."""
    path, cmd, old, new = a.get("path", ""), a.get("cmd", ""), a.get("old", ""), a.get("new", "")
    if agent == "forge":
        table: dict[str, tuple[str, dict[str, Any]]] = {
            "view": ("read", {"file_path": "/workspace/" + path}),
            "search": ("grep", {"pattern": a.get("pattern", ""), "include": "*.py"}),
            "list": ("glob", {"pattern": "**/*.py"}),
            "shell": ("bash", {"command": cmd, "description": "Run " + cmd.partition(" ")[0]}),
            "edit": (
                "edit",
                {"file_path": "/workspace/" + path, "old_string": old, "new_string": new},
            ),
        }
    elif agent == "pilot":
        table = {
            "view": ("read_file", {"path": path}),
            "search": ("search_files", {"path": ".", "regex": a.get("pattern", "")}),
            "list": ("list_files", {"path": ".", "recursive": True}),
            "shell": ("execute_command", {"command": cmd, "requires_approval": False}),
            "edit": (
                "replace_in_file",
                {"path": path, "diff": f"------- SEARCH\n{old}\n=======\n{new}\n+++++++ REPLACE"},
            ),
        }
    elif agent == "harbor":
        table = {
            "view": ("str_replace_editor", {"command": "view", "path": "/workspace/" + path}),
            "search": ("execute_bash", {"command": f"grep -rn '{a.get('pattern', '')}' ."}),
            "list": ("execute_bash", {"command": "find . -name '*.py' | head -50"}),
            "shell": ("execute_bash", {"command": cmd}),
            "edit": (
                "str_replace_editor",
                {
                    "command": "str_replace",
                    "path": "/workspace/" + path,
                    "old_str": old,
                    "new_str": new,
                },
            ),
        }
    else:
        table = {
            "view": ("read_file", {"path": path}),
            "search": ("grep", {"query": a.get("pattern", "")}),
            "list": ("list_dir", {"path": "."}),
            "shell": ("run_shell", {"cmd": cmd}),
            "edit": ("edit_file", {"path": path, "old": old, "new": new}),
        }
    return table[action]


def tool_loop(
    rng: random.Random, agent: str, code: Sequence[CodeTask], steps: int
) -> list[Message]:
    """``steps`` prior tool calls with their results; the last message is a tool result."""
    root = _pick(rng, ("src/app", "src/project", "lib", "pkg", "src/service"))
    task = code[int(rng.random() * len(code))]
    path = _path(rng, root)
    out: list[Message] = []
    for k in range(steps):
        x = rng.random() if k else 0.3
        if x < 0.12:
            action, args = "list", {}
            result = "\n".join(sorted({_path(rng, root) for _ in range(_int(rng, 4, 14))}))
        elif x < 0.4:
            action, args = "view", {"path": path}
            result = _view(rng, task, agent in ("forge", "harbor"))
        elif x < 0.55:
            pattern = _pick(rng, ("def " + task.entry_point, task.entry_point, "TODO", "import re"))
            action, args = "search", {"pattern": pattern}
            result = "\n".join(
                f"{_path(rng, root)}:{_int(rng, 1, 400)}:{pattern}" for _ in range(_int(rng, 1, 6))
            )
        elif x < 0.78:
            cmd = _pick(rng, ("python -m pytest -x -q", "pytest tests/ -q", "make test"))
            action, args = "shell", {"cmd": cmd}
            result = _pytest(rng, path, task.entry_point)
        elif x < 0.88:
            cmd = _pick(rng, CMDS)
            action, args = "shell", {"cmd": cmd}
            result = _shell(rng, cmd, root)
        else:
            line = _pick(rng, task.solution.splitlines() or ["pass"])
            action, args = (
                "edit",
                {
                    "path": path,
                    "old": line,
                    "new": line.replace("==", ">=", 1)
                    if "==" in line
                    else line + "  # handle empty input",
                },
            )
            result = _pick(
                rng,
                (
                    f"The file {path} has been updated.",
                    "Applied edit.",
                    f"Edit applied successfully to {path}",
                ),
            )
        name, arguments = _spell(agent, action, args)
        call = tool_call(rng, name, arguments)
        out.append(assistant(_pick(rng, NOTES), [call]))
        out.append(tool_result(call, result))
    return out
