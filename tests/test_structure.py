"""How the package hangs together: commands registered when built, no import circles, one rule per size,
the device index reaching ONNX Runtime."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CONTENT, STYLE

PACKAGE = Path(__file__).resolve().parents[1] / "stylegram"


def test_app_lists_every_command_group_without_main():
    script = ("import json, sys, typer.main\n"
              "from stylegram.cli import app\n"
              "group = typer.main.get_command(app)\n"
              "print(json.dumps({'commands': sorted(group.commands), 'cache': sorted(group.commands['cache'].commands),"
              " 'torch': 'torch' in sys.modules}))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert set(found["commands"]) >= {"batch", "bench", "cache", "doctor", "export", "layers", "serve", "stylize"}
    assert found["cache"] == ["add", "clear", "ls", "rm", "verify"]
    assert found["torch"] is False  # building the app imports no torch


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """stylegram modules that ``path`` imports (relative imports resolved; ``from . import x`` -> module x)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            if not base.startswith("stylegram"):
                continue
            for alias in node.names:
                child = f"{base}.{alias.name}"
                is_module = (PACKAGE.parent / Path(*child.split("."))).with_suffix(".py").exists() or \
                    (PACKAGE.parent / Path(*child.split("."))).is_dir()
                found.add(child if is_module else base)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("stylegram")}
    return found - {name}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return trail[trail.index(target):] + [target] if target in trail else [node, target]
            if target not in state and (found := visit(target, [*trail, target])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


@pytest.mark.parametrize("top_level_only", [True, False], ids=["module-level", "including-deferred"])
def test_no_import_circle(top_level_only):
    graph = {_module_name(p): _imports(p, top_level_only=top_level_only) for p in PACKAGE.rglob("*.py")}
    # a package's modules may import the package itself (``from .. import __version__``): not a circle
    graph = {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in graph.items()}
    assert len(graph) > 40 and "stylegram.cli.app" in graph["stylegram.cli"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


# rooms below stylize() never import the wings above it (docs/design.md)
CORE = ("stylegram.engine", "stylegram.objective", "stylegram.loop", "stylegram.tiling")  # targets.py is a serve client
WINGS = ("stylegram.cli", "stylegram.serve", "stylegram.batch", "stylegram.video", "stylegram.studio")
TORCH_FREE = ("stylegram.runtime", "stylegram.tile_geometry", "stylegram.memory_estimate", "stylegram.eta",
              "stylegram.settings", "stylegram.images", "stylegram")


def test_the_core_imports_no_wing_and_torch_free_modules_stay_free():
    for path in PACKAGE.rglob("*.py"):
        name, imported = _module_name(path), _imports(path, top_level_only=False)
        if name.startswith(CORE):
            assert not {m for m in imported if m.startswith(WINGS)}, f"{name} imports a wing"
    script = ("import sys\n"
              f"for name in {TORCH_FREE!r}: __import__(name)\n"
              "import stylegram.runtime.cache, stylegram.runtime.sessions, stylegram.runtime.targets\n"
              "print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "False", proc.stderr or proc.stdout


def test_cycle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_device_index_reaches_the_onnx_runtime_session(monkeypatch, original_weights):
    from stylegram.runtime import sessions
    from stylegram.runtime.sessions import Provider, SessionConfig, provider_options
    from stylegram.settings import StylizeSettings
    from stylegram.targets import _ort_session

    assert SessionConfig.for_device("cpu").provider is Provider.CPU
    config = SessionConfig.for_device("cuda:1")
    assert (config.provider, config.cuda_device) == (Provider.AUTO, 1)
    assert provider_options(Provider.CUDA, config)[1]["device_id"] == 1
    assert provider_options(Provider.TENSORRT, config)[1]["device_id"] == 1
    assert SessionConfig.for_device("cuda").cuda_device == 0
    seen = []

    def record(path, config):
        seen.append(config)
        raise RuntimeError("recorded")

    monkeypatch.setattr(sessions, "shared_session", record)
    settings = StylizeSettings(device="cuda:1", model=str(CONTENT))  # the session is never built
    with pytest.raises(RuntimeError, match="recorded"):
        _ort_session(settings, original_weights)
    assert [(c.provider, c.cuda_device) for c in seen] == [(Provider.AUTO, 1)]


@pytest.mark.slow
def test_stylize_and_cache_add_share_entries(private_home, capsys):
    from stylegram.cli import main
    from stylegram.engine import stylize
    from stylegram.runtime.cache import GramCache
    from stylegram.settings import StylizeSettings

    GramCache().clear()
    main(["cache", "add", str(STYLE), "--size", "384", "--style-scale", "0.5", "--quiet"])
    entries = {(e.size, e.style_scale) for e in GramCache().entries()}
    assert entries == {(192, 0.5), (384, 0.5)}  # one per scale of the automatic schedule, as stylize uses them
    for engine in ("ort", "torch"):
        seen = []
        result = stylize(CONTENT, [STYLE], StylizeSettings(size=384, style_scale=0.5, iterations_per_scale=(1, 1),
                                                           targets=engine), callback=seen.append)
        assert result.style_cache == ("hit",) and [p.size for p in seen] == [192, 384]
        assert {(e.size, e.style_scale) for e in GramCache().entries()} == entries  # nothing new: both scales hit
