"""Render as-of page views as Confluence v1 Content objects (the shape of the DC samples).

Only the requested `expand` parts are filled in; the rest appear in `_expandable`, as on
a real server, so a client that forgets an expansion sees the same empty result.
"""

from __future__ import annotations

import hashlib
from typing import Any

BODY_EXPANDABLE = {
    "editor": "",
    "atlas_doc_format": "",
    "view": "",
    "export_view": "",
    "styled_view": "",
    "dynamic": "",
    "anonymous_export_view": "",
}
METADATA_EXPANDABLE = {
    "currentuser": "",
    "comments": "",
    "simple": "",
    "properties": "",
    "frontend": "",
    "editorHtml": "",
    "likes": "",
}


def space_id(key: str) -> int:
    """A stable numeric space id derived from the key."""
    return 98305 + int(hashlib.md5(key.encode()).hexdigest()[:4], 16)


def render_space(key: str, name: str, base: str) -> dict[str, Any]:
    return {
        "id": space_id(key),
        "key": key,
        "name": name,
        "type": "global",
        "status": "current",
        "_links": {"webui": f"/display/{key}", "self": f"{base}/rest/api/space/{key}"},
        "_expandable": {
            "metadata": "",
            "icon": "",
            "description": "",
            "retentionPolicy": "",
            "homepage": "",
        },
    }


def render_user(by: dict[str, Any], base: str) -> dict[str, Any]:
    name = by.get("displayName", "")
    key = hashlib.md5(name.encode()).hexdigest()
    return {
        "type": "known",
        "username": by.get("username") or f"user-{key[:8]}",
        "userKey": by.get("userKey") or key,
        "profilePicture": {
            "path": "/images/icons/profilepics/default.svg",
            "width": 48,
            "height": 48,
            "isDefault": True,
        },
        "displayName": name,
        "_links": {"self": f"{base}/rest/api/user?key={key}"},
        "_expandable": {"status": ""},
    }


def _render_version(view: dict[str, Any], base: str) -> dict[str, Any]:
    version = view["version"]
    return {
        "by": render_user(version.get("by", {}), base),
        "when": version["when"],
        "message": version.get("message", ""),
        "number": int(version["number"]),
        "minorEdit": bool(version.get("minorEdit", False)),
        "hidden": False,
        "_links": {
            "self": f"{base}/rest/experimental/content/{view['id']}/version/{version['number']}"
        },
        "_expandable": {"content": f"/rest/api/content/{view['id']}"},
    }


def _render_ancestor(ancestor: dict[str, Any], space_key: str, base: str) -> dict[str, Any]:
    aid = str(ancestor["id"])
    return {
        "id": aid,
        "type": "page",
        "status": "current",
        "title": ancestor.get("title", ""),
        "extensions": {"position": 0},
        "_links": {
            "webui": f"/pages/viewpage.action?pageId={aid}",
            "edit": f"/pages/resumedraft.action?draftId={aid}",
            "tinyui": f"/x/{aid}",
            "self": f"{base}/rest/api/content/{aid}",
        },
        "_expandable": {
            "container": f"/rest/api/space/{space_key}",
            "metadata": "",
            "operations": "",
            "children": f"/rest/api/content/{aid}/child",
            "history": f"/rest/api/content/{aid}/history",
            "ancestors": "",
            "body": "",
            "version": "",
            "space": f"/rest/api/space/{space_key}",
        },
    }


def render_content(view: dict[str, Any], expand: set[str], base: str) -> dict[str, Any]:
    """One Content object with the requested expansions."""
    pid = str(view["id"])
    key = view["space_key"]
    result: dict[str, Any] = {
        "id": pid,
        "type": "page",
        "status": view["status"],
        "title": view["version"]["title"],
    }
    expandable: dict[str, str] = {
        "container": f"/rest/api/space/{key}",
        "operations": "",
        "children": f"/rest/api/content/{pid}/child",
        "restrictions": f"/rest/api/content/{pid}/restriction/byOperation",
        "descendants": f"/rest/api/content/{pid}/descendant",
    }
    if "space" in expand:
        result["space"] = render_space(key, view.get("space_name", key), base)
    else:
        expandable["space"] = f"/rest/api/space/{key}"
    if expand & {"history", "history.lastupdated"}:
        first = view["first_version"]
        result["history"] = {
            "latest": True,
            "createdBy": render_user(first.get("by", {}), base),
            "createdDate": first["when"],
            "_links": {"self": f"{base}/rest/api/content/{pid}/history"},
            "_expandable": {
                "lastUpdated": "",
                "previousVersion": "",
                "contributors": "",
                "nextVersion": "",
            },
        }
    else:
        expandable["history"] = f"/rest/api/content/{pid}/history"
    if "version" in expand:
        result["version"] = _render_version(view, base)
    else:
        expandable["version"] = ""
    if "ancestors" in expand:
        result["ancestors"] = [_render_ancestor(a, key, base) for a in view.get("ancestors", [])]
    else:
        expandable["ancestors"] = ""
    if expand & {"body.storage", "body.storage.value"}:
        result["body"] = {
            "storage": {
                "value": view["version"]["storage"],
                "representation": "storage",
                "embeddedContent": [],
                "_expandable": {"content": f"/rest/api/content/{pid}"},
            },
            "_expandable": dict(BODY_EXPANDABLE),
        }
    else:
        expandable["body"] = ""
    if "metadata.labels" in expand:
        labels = [
            {"prefix": "global", "name": name, "id": str(1310721 + i), "label": name}
            for i, name in enumerate(view.get("labels", []))
        ]
        result["metadata"] = {
            "labels": {
                "results": labels,
                "start": 0,
                "limit": 200,
                "size": len(labels),
                "_links": {"self": f"{base}/rest/api/content/{pid}/label"},
            },
            "_expandable": dict(METADATA_EXPANDABLE),
        }
    else:
        expandable["metadata"] = ""
    result["extensions"] = {"position": 0}
    result["_links"] = {
        "webui": f"/pages/viewpage.action?pageId={pid}",
        "edit": f"/pages/resumedraft.action?draftId={pid}",
        "tinyui": f"/x/{pid}",
        "self": f"{base}/rest/api/content/{pid}",
    }
    result["_expandable"] = expandable
    return result


def page_size_cap(expand: set[str]) -> int:
    """DC caps the page size whatever `limit` says: 50 with a body, 200 with others, else 1000."""
    if any(part.startswith("body") for part in expand):
        return 50
    return 200 if expand else 1000
