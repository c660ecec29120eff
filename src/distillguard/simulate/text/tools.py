"""Tool schemas (neutral JSON schema form) for coding agents and computer use.

Four open-source-style coding agents each ship their own tool set; a step in a tool loop is an
abstract action (view, search, list, run, edit, write) that each agent spells its own way.

>>> [t["name"] for t in AGENTS["coder"]][:4]
['read_file', 'edit_file', 'create_file', 'run_shell']
"""

from __future__ import annotations

from typing import Any

Tool = dict[str, Any]


def tool(name: str, desc: str, required: tuple[str, ...] = (), /, **props: Any) -> Tool:
    """A tool schema; each keyword is a parameter: a type name or a full JSON schema."""
    properties = {k: ({"type": v} if isinstance(v, str) else v) for k, v in props.items()}
    return {
        "name": name,
        "description": desc,
        "parameters": {"type": "object", "properties": properties, "required": list(required)},
    }


def _s(description: str) -> dict[str, str]:
    return {"type": "string", "description": description}


AGENTS: dict[str, list[Tool]] = {
    "forge": [
        tool(
            "bash",
            "Executes a bash command in a persistent shell session with optional timeout. "
            "Use for running tests, builds, git and package managers. Do not use it to read or "
            "search files; use the dedicated tools.",
            ("command",),
            command=_s("The command to execute"),
            timeout={
                "type": "number",
                "description": "Optional timeout in milliseconds (max 600000)",
            },
            description=_s("Clear, concise description of what this command does in 5-10 words"),
        ),
        tool(
            "read",
            "Reads a file from the local filesystem. Returns up to 2000 lines with line "
            "numbers. Use offset and limit for long files.",
            ("file_path",),
            file_path=_s("The absolute path to the file to read"),
            offset="number",
            limit="number",
        ),
        tool(
            "edit",
            "Performs exact string replacements in files. The edit fails if old_string is "
            "not unique in the file.",
            ("file_path", "old_string", "new_string"),
            file_path=_s("The absolute path to the file to modify"),
            old_string=_s("The text to replace"),
            new_string=_s("The text to replace it with"),
            replace_all={"type": "boolean", "default": False},
        ),
        tool(
            "write",
            "Writes a file to the local filesystem, overwriting it if it exists.",
            ("file_path", "content"),
            file_path=_s("Absolute path"),
            content=_s("File content"),
        ),
        tool(
            "grep",
            "Fast content search using regular expressions. Returns matching file paths "
            "sorted by modification time.",
            ("pattern",),
            pattern=_s("The regex pattern"),
            path=_s("Directory to search in"),
            include=_s('File pattern, e.g. "*.py"'),
        ),
        tool(
            "glob",
            'Fast file pattern matching, e.g. "**/*.ts".',
            ("pattern",),
            pattern=_s("The glob pattern"),
            path=_s("Directory to search in"),
        ),
        tool(
            "todowrite",
            "Create and manage a structured task list for the current session.",
            ("todos",),
            todos={
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "content": {"type": "string"},
                        "status": {
                            "type": "string",
                            "enum": ["pending", "in_progress", "completed"],
                        },
                    },
                },
            },
        ),
    ],
    "pilot": [
        tool(
            "execute_command",
            "Request to execute a CLI command on the system. Commands run in "
            "the current working directory.",
            ("command", "requires_approval"),
            command=_s("The CLI command to execute"),
            requires_approval={
                "type": "boolean",
                "description": "Whether the command is "
                "potentially destructive and needs explicit user approval",
            },
        ),
        tool(
            "read_file",
            "Request to read the contents of a file at the specified path.",
            ("path",),
            path=_s("The path of the file to read (relative to the workspace)"),
        ),
        tool(
            "write_to_file",
            "Request to write content to a file. Creates directories as needed.",
            ("path", "content"),
            path=_s("File path"),
            content=_s("Complete intended content"),
        ),
        tool(
            "replace_in_file",
            "Request to replace sections of content in an existing file using "
            "SEARCH/REPLACE blocks.",
            ("path", "diff"),
            path=_s("File path"),
            diff=_s("One or more SEARCH/REPLACE blocks"),
        ),
        tool(
            "search_files",
            "Request to perform a regex search across files in a directory.",
            ("path", "regex"),
            path=_s("Directory to search"),
            regex=_s("Rust regex syntax"),
            file_pattern=_s("Glob to filter files"),
        ),
        tool(
            "list_files",
            "Request to list files and directories within the specified directory.",
            ("path",),
            path=_s("Directory path"),
            recursive="boolean",
        ),
        tool(
            "ask_followup_question",
            "Ask the user a question to gather additional information.",
            ("question",),
            question=_s("The question to ask the user"),
        ),
        tool(
            "attempt_completion",
            "Present the result of the task to the user once it is done.",
            ("result",),
            result=_s("The result of the task"),
            command=_s("Optional demo command"),
        ),
    ],
    "harbor": [
        tool(
            "execute_bash",
            "Execute a bash command in the terminal. Long-running commands should "
            "be run in the background. One command at a time.",
            ("command",),
            command=_s("The bash command to execute"),
            is_input={"type": "string", "enum": ["true", "false"]},
            timeout={"type": "number", "description": "Seconds before the command is interrupted"},
        ),
        tool(
            "str_replace_editor",
            "Custom editing tool for viewing, creating and editing files. "
            "State is persistent across calls.",
            ("command", "path"),
            command={
                "type": "string",
                "enum": ["view", "create", "str_replace", "insert", "undo_edit"],
            },
            path=_s("Absolute path to file or directory"),
            file_text=_s("Content for create"),
            old_str=_s("String to replace"),
            new_str=_s("Replacement string"),
            insert_line="integer",
            view_range={"type": "array", "items": {"type": "integer"}},
        ),
        tool(
            "think",
            "Use the tool to think about something. It will not obtain new information "
            "or change anything.",
            ("thought",),
            thought=_s("The thought to log"),
        ),
        tool(
            "finish",
            "Signals the completion of the current task.",
            ("message",),
            message=_s("Final message to send to the user"),
        ),
    ],
    "coder": [
        tool(
            "read_file",
            "Read a file from the repository.",
            ("path",),
            path=_s("Relative path"),
            start_line="integer",
            end_line="integer",
        ),
        tool(
            "edit_file",
            "Replace an exact snippet in a file with new text.",
            ("path", "old", "new"),
            path=_s("Relative path"),
            old=_s("Exact text to find"),
            new=_s("Replacement text"),
        ),
        tool(
            "create_file",
            "Create a new file with the given content.",
            ("path", "content"),
            path=_s("Relative path"),
            content=_s("Full file content"),
        ),
        tool(
            "run_shell",
            "Run a shell command in the repository root and return stdout/stderr.",
            ("cmd",),
            cmd=_s("Command line"),
            timeout_s="integer",
        ),
        tool(
            "grep",
            "Search the repository with ripgrep.",
            ("query",),
            query=_s("Regex"),
            glob=_s("Optional glob filter"),
        ),
        tool("list_dir", "List a directory.", ("path",), path=_s("Relative path")),
    ],
}

COMPUTER = [
    tool(
        "computer",
        "Use a mouse and keyboard to interact with a computer, and take screenshots. "
        "The screen resolution is {w}x{h}.",
        ("action",),
        action={
            "type": "string",
            "enum": [
                "screenshot",
                "left_click",
                "right_click",
                "double_click",
                "mouse_move",
                "type",
                "key",
                "scroll",
                "left_click_drag",
                "wait",
            ],
        },
        coordinate={"type": "array", "items": {"type": "integer"}, "description": "(x, y)"},
        text=_s("Text to type or key combination"),
        scroll_direction={"type": "string", "enum": ["up", "down", "left", "right"]},
        scroll_amount="integer",
    ),
]
