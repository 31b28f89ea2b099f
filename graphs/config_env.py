"""The `env` of a langgraph.json: a `.env` file's path or a mapping of variables, set in the
process environment before the graphs are imported, as LangGraph's server does (the
config's values win over the environment's). `ROUTEGRAPH_*` names are refused: settings
are read before the config, so such a value would be silently ignored."""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import dotenv_values


class ConfigEnvError(ValueError):
    """The config's `env` cannot be loaded; the message says why."""


def config_env(config: Path, env: object) -> dict[str, str]:
    """The variables `env` sets (ConfigEnvError when it is neither a readable file nor a
    mapping of names to strings)."""
    if env is None:
        return {}
    if isinstance(env, str):
        return _from_file(config, (config.parent / env).resolve())
    if isinstance(env, dict):
        for key, value in env.items():
            if not isinstance(value, str):
                raise ConfigEnvError(
                    f'{config}: "env": {key!r} must be a string, got {type(value).__name__}'
                )
        return _checked(config, env)
    raise ConfigEnvError(
        f'{config}: "env" must be a path to a .env file or an object of variables, '
        f"got {type(env).__name__}"
    )


def load_config_env(config: Path, env: object) -> dict[str, str]:
    """Set `env`'s variables in this process; returns them."""
    variables = config_env(config, env)
    os.environ.update(variables)
    return variables


def _from_file(config: Path, file: Path) -> dict[str, str]:
    if not file.is_file():
        raise ConfigEnvError(f'{config}: "env": {file}: no such file')
    try:
        values = dotenv_values(file, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigEnvError(f'{config}: "env": {file}: cannot be read: {exc}') from exc
    # `NAME` alone on a line has no value: LangGraph's loader skips it too.
    return _checked(config, {key: value for key, value in values.items() if value is not None})


def _checked(config: Path, variables: dict[str, str]) -> dict[str, str]:
    for key in variables:
        if not key or "=" in key or "\x00" in key:
            raise ConfigEnvError(f'{config}: "env": {key!r} is not a variable name')
        if key.upper().startswith("ROUTEGRAPH_"):
            raise ConfigEnvError(
                f'{config}: "env": {key} is a routegraph setting; settings are read before '
                "langgraph.json, so set it in routegraph's own environment instead"
            )
    return dict(variables)
