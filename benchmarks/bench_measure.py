"""Measurement-engine benchmark: prints a table of times and ratios measured in the same run.

Every comparison is for the same rays: ``ray_thickness`` casts one ray per face and one per
vertex; raw embreex casts exactly those, and the trimesh timings (on a subset) are scaled to
that ray count. The raw reference builds its index with embreex, which copies the mesh into
Embree element by element; ours hands Embree the arrays (:func:`pmd_envelope.rays.embree_scene`),
so each raw time is also given with the index built that way, and the ratio to it.

Usage: python benchmarks/bench_measure.py [--sizes 100000 500000 2000000] [--whole 1000000] [--repeat 5]

The whole-``measure`` comparison is repeated ``--repeat`` times, alternating the raw reference and
the ``measure`` process so both meet the same machine; every pair's ratio is printed, with the
median and the largest. The package's bytecode is written first, as an installed package has it
(an editable install writes none, and with PYTHONDONTWRITEBYTECODE no run writes it).

Meshes are finely tessellated spherical-cap plates (R 80 mm, t 2 mm, span 100 mm). Ratios, not
absolute times, are the result: this machine is noisy (1.3-2x between runs). Not a test.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pmd_envelope.measure.thickness import face_rays, ray_thickness, vertex_pseudonormals
from pmd_envelope.mesh_io import write_binary_stl
from pmd_envelope.settings import DEFAULT_SETTINGS
from pmd_envelope.shapes import cap_half_angle_for_span, spherical_cap_plate


def cap(n_faces: int):
    segments = int(np.sqrt(n_faces / 2.0))
    rings = max(2, int(round(n_faces / (4.0 * segments))))
    return spherical_cap_plate(80.0, 2.0, cap_half_angle_for_span(80.0, 2.0, 100.0), rings=rings, segments=segments)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def raw_embree(mesh, origins, dirs):
    from embreex import rtcore_scene
    from embreex.mesh_construction import TriangleMesh

    shift = mesh.vertices.min(axis=0)
    scene = rtcore_scene.EmbreeScene()
    TriangleMesh(scene, (mesh.vertices - shift).astype(np.float32), mesh.faces.astype(np.int32))
    return scene.run((origins - shift).astype(np.float32), dirs.astype(np.float32), output=1)


def raw_shared(mesh, origins, dirs):
    """As :func:`raw_embree`, with the index built the way ours is (:func:`pmd_envelope.rays.embree_scene`:
    the mesh handed to Embree as shared buffers, not copied element by element by embreex)."""
    from pmd_envelope.rays import embree_scene

    shift = mesh.vertices.min(axis=0)
    scene, _kept = embree_scene((mesh.vertices - shift).astype(np.float32), mesh.faces)
    return scene.run((origins - shift).astype(np.float32), dirs.astype(np.float32), output=1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 500_000, 2_000_000])
    ap.add_argument("--whole", type=int, default=1_000_000)
    ap.add_argument("--subset", type=int, default=50_000, help="rays given to the slow trimesh paths")
    ap.add_argument("--memory", type=int, default=2_000_000, help="faces of the plate whose measure peak RSS is taken")
    ap.add_argument("--repeat", type=int, default=5, help="alternating pairs of the whole-measure comparison")
    args = ap.parse_args()
    import trimesh

    rows = []
    for n in args.sizes:
        mesh = cap(n)
        c, inward, _, _ = face_rays(mesh)
        origins = c + inward * 1e-4
        # the same rays ray_thickness casts: one per face and one per vertex (minus pseudonormal)
        vdir = -vertex_pseudonormals(mesh)
        all_o = np.vstack([origins, mesh.vertices + vdir * 1e-4])
        all_d = np.vstack([inward, vdir])
        t_raw, _ = timed(lambda: raw_embree(mesh, all_o, all_d))
        t_shared, _ = timed(lambda: raw_shared(mesh, all_o, all_d))
        t_ours, _ = timed(lambda: ray_thickness(mesh, DEFAULT_SETTINGS))
        tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
        k = min(args.subset, len(c))
        sel = np.linspace(0, len(c) - 1, k).astype(int)
        from trimesh.ray.ray_pyembree import RayMeshIntersector

        t_wrap, _ = timed(lambda: RayMeshIntersector(tm).intersects_id(origins[sel], inward[sel], multiple_hits=False,
                                                                       return_locations=True))
        n_rays = len(all_o)  # scaled to the rays ray_thickness casts (faces + vertices)
        t_wrap *= n_rays / k
        t_prox, _ = timed(lambda: trimesh.proximity.thickness(tm, c[sel], exterior=False, normals=-inward[sel],
                                                              method="ray"))
        t_prox *= n_rays / k
        rows.append((len(mesh.faces), t_raw, t_shared, t_ours, t_wrap, t_prox))
        # the whole-measure run below is a fresh process; the largest plate and its trimesh copy
        # are freed first so it does not run beside this process's leftover gigabytes
        del mesh, tm, c, inward, origins, vdir, all_o, all_d

    print("| faces | raw embreex build + the same rays (faces + vertices) [s] | ours ray_thickness [s] | ours / raw (target <= 2) "
          "| raw, index from shared buffers [s] | ours / that "
          "| trimesh embree wrapper [s] (scaled) | wrapper / ours (target >= 3) "
          "| trimesh proximity.thickness [s] (scaled) | proximity / ours (target >= 8) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n, raw, shared, ours, wrap, prox in rows:
        print(f"| {n:,} | {raw:.2f} | {ours:.2f} | {ours / raw:.2f} | {shared:.2f} | {ours / shared:.2f} | {wrap:.2f} "
              f"| {wrap / ours:.1f} | {prox:.2f} | {prox / ours:.1f} |")

    if args.whole:
        import compileall
        import statistics

        import pmd_envelope

        compileall.compile_dir(str(Path(pmd_envelope.__file__).parent), quiet=1)
        mesh = cap(args.whole)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "plate.stl"
            write_binary_stl(path, mesh.vertices, mesh.faces)
            c, inward, _, _ = face_rays(mesh)
            pairs = []
            for _ in range(max(1, args.repeat)):
                t_raw, _ = timed(lambda: raw_embree(mesh, c + inward * 1e-4, inward))
                t_shared, _ = timed(lambda: raw_shared(mesh, c + inward * 1e-4, inward))
                t_cli, r = timed(lambda: subprocess.run([sys.executable, "-m", "pmd_envelope", "measure", str(path),
                                                         "--units", "mm", "--json"], capture_output=True))
                pairs.append((t_raw, t_shared, t_cli, r.returncode))
            _, mb = peak_rss(path)
        print()
        print(f"whole `measure --json` of a {len(mesh.faces):,}-face plate, process start to JSON out, against raw "
              f"embreex build + one ray per face, {len(pairs)} alternating pairs:")
        print("| pair | raw [s] | measure [s] | measure / raw (target <= 4) | raw, index from shared buffers [s] "
              "| measure / that | exit |")
        print("|---|---|---|---|---|---|---|")
        for i, (t_raw, t_shared, t_cli, code) in enumerate(pairs, 1):
            print(f"| {i} | {t_raw:.2f} | {t_cli:.2f} | {t_cli / t_raw:.2f} | {t_shared:.2f} | {t_cli / t_shared:.1f} "
                  f"| {code} |")
        ratios = [t_cli / t_raw for t_raw, _, t_cli, _ in pairs]
        print(f"ratio median {statistics.median(ratios):.2f}, largest {max(ratios):.2f}, smallest {min(ratios):.2f} "
              f"(target <= 4); measure median {statistics.median(p[2] for p in pairs):.2f} s, raw median "
              f"{statistics.median(p[0] for p in pairs):.2f} s; peak RSS of the measure process {mb:.0f} MB")
    if args.memory:
        mesh = cap(args.memory)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "plate.stl"
            write_binary_stl(path, mesh.vertices, mesh.faces)
            del mesh
            t_mem, (code, mb) = timed(lambda: peak_rss(path))
        print(f"peak RSS of `measure --json` on a {args.memory:,}-face plate: {mb:.0f} MB (target < 2048 MB); "
              f"{t_mem:.1f} s; exit {code}")


def peak_rss(path: Path) -> tuple[int, float]:
    """Exit code and peak RSS [MB] of ``measure --json`` on ``path``, in a fresh small process.

    Its only child is the measure run, so ru_maxrss is that run's peak. Read in this process
    instead, it would be this process's size: a forked child counts its parent's pages until it
    executes the new program (a 2M-face plate held here made a 1M-face run read ~1.9 GB).
    """
    probe = ("import resource, subprocess, sys; r = subprocess.run([sys.executable, '-m', 'pmd_envelope', "
             "'measure', sys.argv[1], '--units', 'mm', '--json'], capture_output=True); "
             "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True)
    code, kb = out.stdout.split()
    return int(code), int(kb) / 1024.0


if __name__ == "__main__":
    main()
