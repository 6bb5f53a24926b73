"""The WeUI subset the H5 pages load (tools/weui_subset.py) is current: every WeUI class a
template or script uses has its rules in it, and it stays a fraction of the full build."""

from __future__ import annotations

from tools import weui_subset


def test_the_weui_subset_is_up_to_date_with_the_templates():
    assert weui_subset.main(["--check"]) == 0, "run: python tools/weui_subset.py"


def test_the_subset_keeps_the_rules_of_used_classes_and_drops_the_rest():
    css = ".weui-btn{color:red}.weui-unused{color:blue}.weui-btn,.weui-unused{margin:0}"
    css += "@media (min-width:1px){.weui-unused{x:1}.weui-btn{y:2}}body{z:3}"

    kept = weui_subset.subset(css, {"weui-btn"})

    assert kept == (
        ".weui-btn{color:red}.weui-btn{margin:0}@media (min-width:1px){.weui-btn{y:2}}body{z:3}"
    )
