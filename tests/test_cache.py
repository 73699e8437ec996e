"""The style Gram cache: faults, concurrency, eviction, and the cache commands."""

import logging
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from stylegram.runtime.cache import CacheKey, GramCache, read_entry

LAYERS = ("relu1_1", "relu2_1")


def _grams(seed=0):
    rng = np.random.default_rng(seed)
    return {"relu1_1": rng.random((64, 64), np.float32), "relu2_1": rng.random((128, 128), np.float32)}


def _key(n=0):
    return CacheKey(f"{n:064x}", 64, 1.0, '{"model": "test"}')


@pytest.fixture
def cache(tmp_path):
    return GramCache(tmp_path / "grams")


def test_roundtrip_and_hit_refreshes_last_used(cache):
    path = cache.put(_key(), _grams(), image_name="a.jpg")
    os.utime(path, (1, 1))
    got = cache.get(_key(), LAYERS)
    assert set(got) == set(LAYERS)
    np.testing.assert_array_equal(got["relu2_1"], _grams()["relu2_1"])
    assert path.stat().st_mtime > 1e9
    assert cache.get(_key(1), LAYERS) is None


@pytest.mark.parametrize("damage", ["truncate", "bitflip", "garbage"])
def test_damaged_entry_is_detected_and_dropped(cache, damage, caplog):
    path = cache.put(_key(), _grams(), image_name="a.jpg")
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "bitflip":
        data[-100] ^= 0x10  # inside the tensor data, header intact
    else:
        data = bytearray(b"\x00" * 64)
    path.write_bytes(bytes(data))
    assert read_entry(path)[1] is not None
    with caplog.at_level(logging.WARNING, logger="stylegram.cache"):
        assert cache.get(_key(), LAYERS) is None
    assert "damaged cache entry" in caplog.text
    assert not path.exists()  # removed so the next put recomputes it


def test_foreign_or_wrong_layer_entries_are_not_used(cache):
    other = cache.put(_key(1), _grams(), image_name="b.jpg")
    os.replace(other, cache.path_for(_key(2)))  # an entry filed under another key's name
    assert cache.get(_key(2), LAYERS) is None
    cache.put(_key(3), _grams(), image_name="c.jpg")
    assert cache.get(_key(3), ("relu1_1", "relu5_1")) is None  # claims other layers than asked for


def test_unwritable_cache_warns_once_and_continues(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = GramCache(blocker / "grams")  # parent is a file: cannot be created
    with caplog.at_level(logging.WARNING, logger="stylegram.cache"):
        assert cache.put(_key(), _grams(), image_name="a.jpg") is None
        assert cache.put(_key(1), _grams(), image_name="a.jpg") is None
    assert caplog.text.count("not writable") == 1


def test_lru_eviction(tmp_path):
    one_entry = GramCache(tmp_path / "probe").put(_key(), _grams(), image_name="x").stat().st_size
    cache = GramCache(tmp_path / "grams", max_bytes=int(2.5 * one_entry))
    for n in range(3):
        path = cache.put(_key(n), _grams(n), image_name=f"{n}.jpg")
        os.utime(path, (1000 + n, 1000 + n))
    remaining = {e.image for e in cache.entries()}
    assert len(remaining) == 2 and "0.jpg" not in remaining


def test_killed_mid_write_leaves_no_visible_entry(tmp_path):
    script = textwrap.dedent(f"""
        import os, numpy as np, safetensors.numpy
        from stylegram.runtime.cache import CacheKey, GramCache
        def dying_save(tensors, filename, metadata=None):
            with open(filename, "wb") as handle:
                handle.write(b"partial header")
                handle.flush()
            os._exit(9)  # as if killed
        safetensors.numpy.save_file = dying_save
        GramCache({str(tmp_path / "grams")!r}).put(
            CacheKey("0" * 64, 64, 1.0, "m"), {{"relu1_1": np.ones((4, 4), np.float32)}}, image_name="a")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == 9
    cache = GramCache(tmp_path / "grams")
    assert cache.entries() == [] and cache.verify() == []
    assert cache.get(CacheKey("0" * 64, 64, 1.0, "m"), ("relu1_1",)) is None
    (leftover,) = (tmp_path / "grams").iterdir()  # the dead writer's temp file, invisible to readers
    os.utime(leftover, (time.time() - 7200,) * 2)
    cache.evict()  # stale temp files (over an hour old) are swept
    assert list((tmp_path / "grams").iterdir()) == []


def test_two_processes_add_same_style(tmp_path):
    script = textwrap.dedent(f"""
        import numpy as np
        from stylegram.runtime.cache import CacheKey, GramCache
        cache = GramCache({str(tmp_path / "grams")!r})
        key = CacheKey("0" * 64, 64, 1.0, "m")
        grams = {{"relu1_1": np.arange(4096, dtype=np.float32).reshape(64, 64)}}
        for _ in range(30):
            cache.put(key, grams, image_name="same.jpg")
            got = cache.get(key, ("relu1_1",))
            assert got is not None and np.array_equal(got["relu1_1"], grams["relu1_1"])
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE) for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    cache = GramCache(tmp_path / "grams")
    assert len(cache.entries()) == 1 and cache.verify() == []
    assert [p.name for p in (tmp_path / "grams").iterdir()] == [cache.entries()[0].path.name]


def test_cache_commands(tmp_path, capsys, monkeypatch):
    from stylegram.cli import main

    monkeypatch.setenv("STYLEGRAM_HOME", str(tmp_path / "home"))  # an empty cache, whatever ran before

    cache = GramCache()
    cache.put(_key(1), _grams(), image_name="alpha.jpg")
    damaged = cache.put(_key(2), _grams(), image_name="beta.jpg")
    main(["cache", "ls"])
    out = capsys.readouterr().out
    assert "alpha.jpg" in out and "beta.jpg" in out and "2 entries" in out
    damaged.write_bytes(damaged.read_bytes()[:-50])
    with pytest.raises(SystemExit) as info:
        main(["cache", "verify"])
    assert info.value.code == 1
    assert "1 of 2 cache entries are damaged" in capsys.readouterr().err
    main(["cache", "verify", "--fix"])
    assert "1 damaged and removed" in capsys.readouterr().out
    main(["cache", "rm", _key(1).digest()[:8]])
    assert "removed 1 entries" in capsys.readouterr().out
    main(["cache", "clear"])
    assert GramCache().entries() == []
