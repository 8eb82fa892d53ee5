"""Model text as HTML: markdown kept, and nothing that styles the page, asks for input or fetches anything."""

from __future__ import annotations

from flowdeck.components.markup import render_markdown

BASE = "http://127.0.0.2:9"


def test_styles_forms_and_resources_are_removed() -> None:
    shown = render_markdown(
        f"Hi <style>header{{display:none}}</style><link rel=stylesheet href={BASE}/a.css>"
        f'<form action="{BASE}/f"><input type=password name=pw><button>Sign in</button></form>'
        f'<span style="background:url({BASE}/b.png)" class="fixed inset-0">styled</span>'
        f'<table background="{BASE}/t.png"><tr><td background="{BASE}/d.png">cell</td></tr></table>'
        f'<picture><source srcset="{BASE}/s.png"></picture><video poster="{BASE}/v.png"></video>'
        f'<iframe src="{BASE}/i"></iframe><object data="{BASE}/o"></object><base href="{BASE}/">'
        f'<svg><image href="{BASE}/svg.png"/></svg><a href="{BASE}/x" ping="{BASE}/ping">a link</a>'
    )
    for gone in ("<style", "display:none", "<link", "<form", "<input", "<button", "style=", "fixed", "<table b"):
        assert gone not in shown
    for gone in ("<picture", "<source", "<video", "<iframe", "<object", "<base", "<svg", "<image", "ping="):
        assert gone not in shown
    assert "url(" not in shown and f"{BASE}/" not in shown.replace(f'href="{BASE}/x"', "")
    assert "Sign in" in shown and "styled" in shown and "cell" in shown  # the text stays
    assert f'<a href="{BASE}/x" rel="noopener noreferrer nofollow">a link</a>' in shown


def test_images_become_their_alt_text() -> None:
    shown = render_markdown(f'![a "chart" <b>]({BASE}/m.png) <img src="{BASE}/i.png" alt="<script>x</script>"> end')
    assert "<img" not in shown and BASE not in shown
    assert 'a "chart" &lt;b&gt;' in shown
    assert "&lt;script&gt;x&lt;/script&gt;" in shown


def test_scripts_and_script_urls_are_removed() -> None:
    shown = render_markdown("[x](javascript:alert(1)) <a href='data:text/html,hi'>d</a> <b onclick=alert(1)>b</b>")
    assert "javascript:" not in shown and "data:" not in shown and "onclick" not in shown


def test_markdown_stays_markdown() -> None:
    shown = render_markdown("# Title\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n```python\nimport os\n```\n\n- *item*")
    assert "<h1>Title</h1>" in shown
    assert '<th align="left">a</th>' in shown and '<td align="right">2</td>' in shown
    assert '<div class="codehilite">' in shown and '<span class="kn">import</span>' in shown
    assert "<li><em>item</em></li>" in shown


def test_snake_case_names_keep_their_underscores_and_a_list_may_follow_a_line() -> None:
    html = render_markdown("From the tools:\n- write_file: wrote report.md\n- list_files: 1 file\n\nset my_var_name")
    assert "<li>write_file: wrote report.md</li>" in html and "<li>list_files: 1 file</li>" in html
    assert "my_var_name" in html and "<em>" not in html
    assert "<em>this</em>" in render_markdown("say _this_ and")
