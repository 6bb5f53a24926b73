"""Complaint photos (issue 9: "photos via JS-SDK"; "uploads are checked for type and size").

A customer attaches at most 9 photos of at most 5 MB each, JPEG, PNG or WebP. The type is read
from the file's first bytes, never from its name or the browser's word for it. Inside WeChat
the photos come as JS-SDK ``serverId`` s (``wx.uploadImage``), which are media ids of
WeChat's temporary media: they are fetched with ``client.media.download`` while the complaint
is filed; outside WeChat they come as an ordinary multipart upload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import requests
from wechatpy.exceptions import WeChatClientException

from crm.errors import ValidationError

MAX_BYTES = 5 * 1024 * 1024
MAX_PHOTOS = 9
FIELD = "photos"
_MEDIA_ID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")


@dataclass(frozen=True)
class Photo:
    content_type: str
    data: bytes


def content_type(data: bytes) -> str | None:
    """The image type the bytes start with (JPEG, PNG or WebP), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def checked(data: bytes, number: int) -> Photo:
    """One photo, accepted, or a ValidationError naming the ``photos`` field."""
    if not data:
        raise ValidationError(f"第{number}张照片是空文件", FIELD)
    if len(data) > MAX_BYTES:
        raise ValidationError(f"第{number}张照片超过5MB，请压缩后再上传", FIELD)
    kind = content_type(data)
    if kind is None:
        raise ValidationError(f"第{number}张照片不是JPEG、PNG或WebP图片", FIELD)
    return Photo(kind, data)


def _download(client, media_id: str, number: int) -> bytes:
    """The bytes behind a JS-SDK serverId (WeChat keeps them for 3 days)."""
    if client is None:
        raise ValidationError("暂时无法从微信获取照片，请改用相册上传", FIELD)
    try:
        response = client.media.download(media_id)
    except (WeChatClientException, requests.RequestException):
        raise ValidationError(f"第{number}张照片从微信获取失败，请重新选择", FIELD) from None
    if isinstance(response, dict):  # WeChat answered JSON, not a file
        raise ValidationError(f"第{number}张照片从微信获取失败，请重新选择", FIELD)
    return response.content


def collect(uploads: list[bytes], media_ids: list[str], client=None) -> list[Photo]:
    """Every photo of one complaint, checked: the uploaded files, then the JS-SDK media ids
    fetched through ``client`` (a wechatpy client of the Official Account). Nothing is kept
    unless every one of them is acceptable."""
    if len(uploads) + len(media_ids) > MAX_PHOTOS:
        raise ValidationError(f"最多上传{MAX_PHOTOS}张照片", FIELD)
    for media_id in media_ids:
        if not _MEDIA_ID.match(media_id):
            raise ValidationError("照片标识无效，请重新选择", FIELD)
    photos = [checked(data, number) for number, data in enumerate(uploads, start=1)]
    for number, media_id in enumerate(media_ids, start=len(uploads) + 1):
        photos.append(checked(_download(client, media_id, number), number))
    return photos
