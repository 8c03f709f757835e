"""Real squash merges GitHub wrote: the PR commits' authors, dates and messages, and the squash."""

from __future__ import annotations

from typing import Any

# Real squash merges (authors, dates and messages of the PR commits; the
# squash GitHub wrote).  Extracted from the public repositories named in
# 'source'; 'merger_is_author' is deduced (author tz == committer tz).
GOLDEN: list[dict[str, Any]] = [
    {
        "source": "https://github.com/actions/checkout/commit/3d3c42e5aac5ba805825da76410c181273ba90b1",
        "number": 2531,
        "title": "prep v7.0.1 release",
        "era": "2026",
        "pr_author": ["Aiqiao Yan", "55104035+aiqiaoy@users.noreply.github.com"],
        "pr_author_aliases": [],
        "when": [1784313911, "-0400"],
        "merger_is_author": True,
        "expected_author": ["Aiqiao Yan", "55104035+aiqiaoy@users.noreply.github.com", "1784313911", "-0400"],
        "expected_message": "prep v7.0.1 release (#2531)\n"
        "\n"
        "* prep v7.0.1 release\n"
        "\n"
        "* Potential fix for pull request finding\n"
        "\n"
        "Co-authored-by: Copilot Autofix powered by AI "
        "<175728472+Copilot@users.noreply.github.com>\n"
        "\n"
        "---------\n"
        "\n"
        "Co-authored-by: Copilot Autofix powered by AI "
        "<175728472+Copilot@users.noreply.github.com>",
        "commits": [
            {
                "author": ["Aiqiao Yan", "55104035+aiqiaoy@users.noreply.github.com", "1784312852", "+0000"],
                "committer": [
                    "Aiqiao Yan",
                    "55104035+aiqiaoy@users.noreply.github.com",
                    "1784312852",
                    "+0000",
                ],
                "merge": False,
                "message": "prep v7.0.1 release\n",
            },
            {
                "author": ["Aiqiao Yan", "55104035+aiqiaoy@users.noreply.github.com", "1784313064", "-0400"],
                "committer": ["GitHub", "noreply@github.com", "1784313064", "-0400"],
                "merge": False,
                "message": "Potential fix for pull request finding\n"
                "\n"
                "Co-authored-by: Copilot Autofix powered by AI "
                "<175728472+Copilot@users.noreply.github.com>",
            },
        ],
    },
    {
        "source": "https://github.com/encode/httpx/commit/bc00d2bd9f715b3b848925e0c259887409bceabc",
        "number": 3649,
        "title": "Update compatibility.md with documentation of exceptions differences",
        "era": "2023",
        "pr_author": ["Glen Keane", "glenkeane.94@gmail.com"],
        "pr_author_aliases": [],
        "when": [1757081977, "+0100"],
        "merger_is_author": True,
        "expected_author": ["Glen Keane", "glenkeane.94@gmail.com", "1757081977", "+0100"],
        "expected_message": "Update compatibility.md with documentation of exceptions differences (#3649)\n"
        "\n"
        "Co-authored-by: Kim Christie <tom@tomchristie.com>",
        "commits": [
            {
                "author": ["Glen Keane", "glenkeane.94@gmail.com", "1756808540", "+0100"],
                "committer": ["GitHub", "noreply@github.com", "1756808540", "+0100"],
                "merge": False,
                "message": "Update compatibility.md with documentation of exceptions differences",
            },
            {
                "author": ["Kim Christie", "tom@tomchristie.com", "1757081814", "+0100"],
                "committer": ["GitHub", "noreply@github.com", "1757081814", "+0100"],
                "merge": True,
                "message": "Merge branch 'master' into patch-1",
            },
        ],
    },
    {
        "source": "https://github.com/actions/checkout/commit/b17fe1e4d59a9d1d95a7aead5e6fcd13e50939a5",
        "number": 1774,
        "title": "Handle hidden refs",
        "era": "2023",
        "pr_author": ["Orhan Toy", "orhantoy@github.com"],
        "pr_author_aliases": ["toyorhan@gmail.com"],
        "when": [1718204500, "-0400"],
        "merger_is_author": False,
        "expected_author": ["Orhan Toy", "orhantoy@github.com", "1718204500", "+0200"],
        "expected_message": "Handle hidden refs (#1774)\n\nCo-authored-by: Chris Gavin <chris@chrisgavin.me>",
        "commits": [
            {
                "author": ["Orhan Toy", "toyorhan@gmail.com", "1718177658", "+0000"],
                "committer": ["Orhan Toy", "toyorhan@gmail.com", "1718178299", "+0000"],
                "merge": False,
                "message": "Handle hidden refs\n\nCo-authored-by: Chris Gavin <chris@chrisgavin.me>\n",
            }
        ],
        "author_tz": "+0200",
    },
    {
        "source": "https://github.com/actions/checkout/commit/28802689a136bfcdb721715abd713740beecbe07",
        "number": 2530,
        "title": "escape values passed to --unset",
        "era": "2026",
        "pr_author": ["Aiqiao Yan", "55104035+aiqiaoy@users.noreply.github.com"],
        "pr_author_aliases": [],
        "when": [1784310280, "-0400"],
        "merger_is_author": True,
        "expected_author": ["Aiqiao Yan", "55104035+aiqiaoy@users.noreply.github.com", "1784310280", "-0400"],
        "expected_message": "escape values passed to --unset (#2530)",
        "commits": [
            {
                "author": ["Aiqiao Yan", "55104035+aiqiaoy@users.noreply.github.com", "1784308449", "+0000"],
                "committer": [
                    "Aiqiao Yan",
                    "55104035+aiqiaoy@users.noreply.github.com",
                    "1784308449",
                    "+0000",
                ],
                "merge": False,
                "message": "escape values passed to --unset\n",
            }
        ],
    },
    {
        "source": "https://github.com/actions/checkout/commit/0c366fd6a839edf440554fa01a7085ccba70ac98",
        "number": 2357,
        "title": "Update changelog",
        "era": "2023",
        "pr_author": ["eric sciple", "ericsciple@users.noreply.github.com"],
        "pr_author_aliases": [],
        "when": [1767989382, "-0600"],
        "merger_is_author": True,
        "expected_author": ["eric sciple", "ericsciple@users.noreply.github.com", "1767989382", "-0600"],
        "expected_message": "Update changelog (#2357)\n\n",
        "commits": [
            {
                "author": ["eric sciple", "ericsciple@users.noreply.github.com", "1767988648", "+0000"],
                "committer": ["eric sciple", "ericsciple@users.noreply.github.com", "1767988648", "+0000"],
                "merge": False,
                "message": "Update changelog\n",
            }
        ],
    },
]
