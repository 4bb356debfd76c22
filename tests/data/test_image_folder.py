"""Image folders: exact pixels, sizes, channels, unreadable files, labels from sub-folders."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vaekit.data.image_folder import image_folder
from vaekit.errors import DataError
from vaekit.registry import DATASETS


def _save(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode=mode).save(path)
    return path


def _rgb(h, w, seed):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_pixels_are_exact_and_files_sorted(tmp_path):
    arrays = {f"img{i}.png": _rgb(6, 5, i) for i in (2, 0, 1)}
    for name, array in arrays.items():
        _save(tmp_path / name, array)
    ds = image_folder(root=str(tmp_path))
    assert ds.images.shape == (3, 3, 6, 5)  # (N, C, H, W) from (H, W, C) files
    for i, name in enumerate(sorted(arrays)):
        np.testing.assert_array_equal(ds.images[i].numpy().transpose(1, 2, 0), arrays[name])
    assert [p.name for p in ds.files] == sorted(arrays)
    assert ds.labels is None  # files at the top level: no classes
    assert 0.0 <= float(ds[0].min()) and float(ds[0].max()) <= 1.0


def test_recursive_with_labels_from_subfolders(tmp_path):
    _save(tmp_path / "cats" / "a.png", _rgb(4, 4, 0))
    _save(tmp_path / "cats" / "deep" / "b.jpg", _rgb(4, 4, 1))
    _save(tmp_path / "dogs" / "c.PNG", _rgb(4, 4, 2))
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    _save(tmp_path / ".hidden" / "d.png", _rgb(4, 4, 3))
    ds = DATASETS.build("image_folder", root=str(tmp_path))
    assert len(ds) == 3
    assert ds.classes == ["cats", "dogs"] and ds.labels.tolist() == [0, 0, 1]


def test_mixed_sizes_name_the_file_and_the_fix(tmp_path):
    _save(tmp_path / "a.png", _rgb(8, 8, 0))
    _save(tmp_path / "b.png", _rgb(8, 10, 1))
    with pytest.raises(DataError, match=r"b\.png' is 10x8 but .*a\.png' is 8x8; pass image_size"):
        image_folder(root=str(tmp_path))


def test_image_size_crops_centre_and_resizes(tmp_path):
    wide = np.zeros((10, 30, 3), np.uint8)
    wide[:, 10:20] = 255  # a white centre square between black side bands
    _save(tmp_path / "wide.png", wide)
    _save(tmp_path / "small.png", _rgb(5, 5, 1))
    ds = image_folder(root=str(tmp_path), image_size=10)
    assert ds.images.shape == (2, 3, 10, 10)
    # The centre crop of the wide image is its white square: no distortion, no black bands.
    assert int(ds.images[1].min()) >= 250


def test_channels_conversion_and_mixed_modes(tmp_path):
    gray = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16
    _save(tmp_path / "a_gray.png", gray, mode="L")
    _save(tmp_path / "b_rgb.png", _rgb(4, 4, 0))
    with pytest.raises(DataError, match="b_rgb.png' is colour but .*a_gray.png' is grayscale; "
                                        "pass channels=1 or channels=3"):
        image_folder(root=str(tmp_path))
    ds1 = image_folder(root=str(tmp_path), channels=1)
    assert ds1.images.shape == (2, 1, 4, 4)
    np.testing.assert_array_equal(ds1.images[0, 0].numpy(), gray)
    ds3 = image_folder(root=str(tmp_path), channels=3)
    assert ds3.images.shape == (2, 3, 4, 4)
    for c in range(3):  # gray -> RGB repeats the gray value
        np.testing.assert_array_equal(ds3.images[0, c].numpy(), gray)


def test_transparency_becomes_black(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[:2, :, 3] = 255  # top half opaque, bottom half fully transparent
    _save(tmp_path / "a.png", rgba, mode="RGBA")
    ds = image_folder(root=str(tmp_path))
    image = ds.images[0].numpy()
    assert image.shape == (3, 4, 4)
    assert (image[:, :2] == 200).all() and (image[:, 2:] == 0).all()


def test_sixteen_bit_grayscale_is_scaled_not_clipped(tmp_path):
    deep = (np.arange(16, dtype=np.uint16).reshape(4, 4) * 4369)  # 0 .. 65535
    Image.fromarray(deep).save(tmp_path / "deep.png")
    ds = image_folder(root=str(tmp_path))
    assert ds.images.shape == (1, 1, 4, 4)
    np.testing.assert_array_equal(ds.images[0, 0].numpy(), np.arange(16).reshape(4, 4) * 17)


def test_unreadable_files_are_skipped_with_a_warning(tmp_path):
    _save(tmp_path / "good.png", _rgb(4, 4, 0))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (tmp_path / "fake.jpg").write_text("<html>not an image</html>")
    with pytest.warns(UserWarning, match=r"skipped 2 unreadable file\(s\).*broken\.png.*fake\.jpg"):
        ds = image_folder(root=str(tmp_path))
    assert len(ds) == 1 and [p.name for p in ds.files] == ["good.png"]


def test_only_unreadable_files_is_an_error(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="broken.png"), \
            pytest.raises(DataError, match="none of the 1 image files"):
        image_folder(root=str(tmp_path))


def test_empty_and_missing_folders(tmp_path, monkeypatch):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(DataError, match="no image files in .*empty"):
        image_folder(root=str(tmp_path / "empty"))
    with pytest.raises(DataError, match="dataset folder not found: .*missing.*VAEKIT_DATA"):
        image_folder(root=str(tmp_path / "missing"))
    monkeypatch.setenv("VAEKIT_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"image_folder'.*VAEKIT_DATA"):
        image_folder()


def test_bad_options(tmp_path):
    with pytest.raises(DataError, match="channels must be 1, 3 or None"):
        image_folder(root=str(tmp_path), channels=4)
    with pytest.raises(DataError, match="image_size must be a positive integer"):
        image_folder(root=str(tmp_path), image_size=0)


def test_limit_and_real_sample_images(real_data):
    folder = real_data("sample_images")
    ds = image_folder(root=str(folder), image_size=32, channels=3, limit=5)
    assert ds.images.shape == (5, 3, 32, 32)
    gray = image_folder(root=str(folder), image_size=16, channels=1)
    assert gray.images.shape[1:] == (1, 16, 16) and len(gray) >= 20
    # camera.png is a grayscale photograph: not a constant image after resizing.
    camera = [i for i, p in enumerate(gray.files) if p.name == "camera.png"][0]
    assert gray.images[camera].float().std() > 20


def test_image_size_pair_gives_non_square_images(tmp_path):
    # A 40x40 picture whose left half is black and right half white, fitted to 8 x 16: the
    # centre crop keeps the aspect ratio (a 20x40 band), so the halves survive undistorted.
    picture = np.zeros((40, 40), dtype=np.uint8)
    picture[:, 20:] = 255
    _save(tmp_path / "a.png", picture)
    _save(tmp_path / "b.png", _rgb(30, 50, 0))
    ds = image_folder(root=str(tmp_path), image_size=[8, 16], channels=1)
    assert ds.images.shape == (2, 1, 8, 16)
    first = ds.images[0, 0].numpy().astype(int)
    assert first[:, :7].max() < 10 and first[:, 9:].min() > 245


@pytest.mark.parametrize("bad", [[8], [8, 0], [8, 16, 3], "8x16", 0, 2.5])
def test_bad_image_size_names_both_forms(tmp_path, bad):
    _save(tmp_path / "a.png", _rgb(4, 4, 0))
    with pytest.raises(DataError, match=r"image_size must be a positive integer N or a pair"):
        image_folder(root=str(tmp_path), image_size=bad)
