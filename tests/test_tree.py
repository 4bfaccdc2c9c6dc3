"""The size tree behind the treemap: exact totals, bounded size, categories and reclaimable bytes."""

from __future__ import annotations

from conftest import fixture

import imgopt
from imgopt.analysis.categories import Categorizer
from imgopt.analysis.squash import FinalEntry, WasteItem
from imgopt.analysis.tree import TreeNode, directory_tree
from imgopt.model import FileEntry


def _final(files: dict[str, int]) -> list[FinalEntry]:
    return [FinalEntry(p, 0, FileEntry(p, "file", n)) for p, n in files.items()]


def _walk(n: TreeNode) -> list[TreeNode]:
    return [n, *(m for c in n.children for m in _walk(c))]


def test_sizes_add_up_to_the_final_filesystem() -> None:
    a = imgopt.analyze(fixture("waste-docker.tar"))
    tree = directory_tree(a.squash.final.values(), a.squash.waste, Categorizer())
    assert tree.size == a.final_size_bytes and tree.path == "/"
    assert tree.reclaimable == a.reclaimable_bytes
    for n in _walk(tree):
        if n.children:
            assert sum(c.size for c in n.children) == n.size, n.path


def test_small_children_fold_into_one_node_and_the_tree_stays_bounded() -> None:
    files = {f"usr/lib/big{i}": 1_000_000 for i in range(3)}
    files.update({f"usr/lib/small/{i:05d}": 10 for i in range(20_000)})
    files.update({f"var/d{i}/f": 200 for i in range(5_000)})
    files["tiny/x"] = 1  # far below 0.2 % of the root: folded into "…1 smaller"
    tree = directory_tree(_final(files), [], lambda p: None, max_children=40, max_nodes=500)
    assert tree.size == sum(files.values())
    assert tree.count() <= 502
    var = next(c for c in tree.children if c.path == "/var")
    assert len(var.children) <= 41 and var.children[-1].name.endswith("smaller")
    assert sum(c.size for c in var.children) == var.size == 1_000_000
    assert tree.children[-1].name == "…1 smaller" and tree.children[-1].size == 1
    lib = next(c for c in tree.children if c.path == "/usr").children[0]
    assert [c.name for c in lib.children[:3]] == ["big0", "big1", "big2"]


def test_category_and_reclaimable_bytes_are_marked() -> None:
    files = {"usr/share/doc/a/README": 5000, "usr/share/doc/b/NEWS": 3000, "usr/bin/app": 100}
    waste = [WasteItem(1, "var/lib/apt/lists/x_Packages", 7000, "deleted", 2)]
    tree = directory_tree(_final(files), waste, Categorizer())
    usr = next(c for c in tree.children if c.path == "/usr")
    assert usr.category == "docs"  # 8000 of its 8100 bytes
    assert next(c for c in usr.children if c.name == "bin").category is None
    assert tree.reclaimable == 7000 and usr.reclaimable == 0
    assert tree.to_list()[:5] == ["/", 8100, 3, 7000, "docs"]
