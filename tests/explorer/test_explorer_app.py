"""The latent explorer's JSON API through Flask's test client, and bad requests of every kind.

(Named test_explorer_app.py, not test_app.py: test files without packages need unique names.)
"""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.cli.main import main
from vaekit.explorer import create_app, make_sliders, read_dimension_labels
from vaekit.explorer.app import page_html
from vaekit.explorer.server import make_explorer_server
from vaekit.models import build_model

LATENT = 3


def tiny_model(data_shape=(1, 8, 8), **options):
    torch.manual_seed(0)
    return build_model({"type": "vae", "network": "mlp", "data_shape": list(data_shape),
                        "latent_dim": LATENT, "network_options": {"hidden": [16]}, **options})


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def client(model):
    app = create_app(model, labels=["shape", "scale", "inactive"], max_upload_bytes=20_000)
    return app.test_client()


def png_upload(size=(30, 20), mode="RGB", color=(200, 30, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(client, data: bytes, field: str = "image", filename: str = "x.png"):
    return client.post("/api/encode", data={field: (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def decoded_png(uri: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    return Image.open(io.BytesIO(base64.b64decode(uri[len(prefix):])))


def assert_still_serving(client) -> None:
    response = client.post("/api/decode", json={"z": [0.5, -1.0, 2.0]})
    assert response.status_code == 200
    assert decoded_png(response.get_json()["image"]).size == (8, 8)


# ------------------------------------------------------------------------------ happy path
def test_page_is_served_from_package_data(client):
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert text == page_html() and 'id="sliders"' in text and "/api/decode" in text
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_info_describes_model_and_sliders(client):
    info = client.get("/api/info").get_json()
    assert info["latent_dim"] == LATENT and info["data_shape"] == [1, 8, 8]
    assert info["modality"] == "image" and info["initial_z"] == [0.0, 0.0, 0.0]
    assert [s["label"] for s in info["sliders"]] == ["z0 · shape", "z1 · scale", "z2 · inactive"]
    assert info["max_upload_bytes"] == 20_000


def test_decode_returns_the_models_mean_image(client, model):
    z = [0.5, -1.0, 2.0]
    image = decoded_png(client.post("/api/decode", json={"z": z}).get_json()["image"])
    with torch.no_grad():
        expected = model.likelihood.mean_image(model.decode(torch.tensor([z])))[0, 0]
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32)) / 255
    assert image.mode == "L" and torch.allclose(pixels, expected, atol=1 / 255)


def test_sample_is_reproducible_with_a_seed(client):
    first = client.post("/api/sample", json={"seed": 7}).get_json()
    second = client.post("/api/sample", json={"seed": 7}).get_json()
    assert first["z"] == second["z"] and len(first["z"]) == LATENT and first["seed"] == 7
    assert client.post("/api/sample").status_code == 200  # no body: a random seed


def test_encode_resizes_and_says_so(client):
    body = upload(client, png_upload((30, 20)), filename="../../etc/passwd").get_json()
    assert len(body["z"]) == LATENT and body["resized"] is True
    assert any("resized from 30x20 to 8x8" in note for note in body["notes"])
    assert any("converted from RGB to L" in note for note in body["notes"])
    assert decoded_png(body["input"]).size == (8, 8)


def test_encode_of_the_right_size_needs_no_resize(client):
    body = upload(client, png_upload((8, 8), mode="L", color=128)).get_json()
    assert body["resized"] is False and body["notes"] == []


def test_interpolate_random_latents_and_images(client):
    body = client.post("/api/interpolate", json={"steps": 5, "seed": 3}).get_json()
    assert len(body["frames"]) == 5 and decoded_png(body["strip"]).size == (5 * 9 + 1, 10)
    z_a, z_b = [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]
    body = client.post("/api/interpolate", json={"z_a": z_a, "z_b": z_b, "steps": 3}).get_json()
    assert body["z_a"] == z_a and body["z_b"] == z_b and len(body["frames"]) == 3
    files = {"image_a": (io.BytesIO(png_upload()), "a.png"),
             "image_b": (io.BytesIO(png_upload(color=(0, 0, 255))), "b.png"), "steps": "4"}
    response = client.post("/api/interpolate", data=files, content_type="multipart/form-data")
    assert response.status_code == 200 and len(response.get_json()["frames"]) == 4


# ----------------------------------------------------------------------------- bad requests
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"z": [0, 1]}', "'z' has 2 values; this model has 3 latent dimensions"),
        ('{"z": [0, 1, 2, 3]}', "'z' has 4 values"),
        ('{"z": [0, 11, 0]}', "z[1] = 11 is out of range"),
        ('{"z": [0, 0, -1e6]}', "z[2] = -1000000.0 is out of range"),
        ('{"z": [NaN, 0, 0]}', "z[0] is not finite"),
        ('{"z": [0, Infinity, 0]}', "z[1] is not finite"),
        ('{"z": [0, 1e999, 0]}', "z[1] is not finite"),
        ('{"z": [0, "1", 0]}', "z[1] is not a number"),
        ('{"z": [true, 0, 0]}', "z[0] is not a number"),
        ('{"z": [0, null, 0]}', "z[1] is not a number"),
        ('{"z": "0,0,0"}', "'z' must be a list of 3 numbers"),
        ('{"latent": [0, 0, 0]}', "missing 'z'"),
        ("[0, 0, 0]", "JSON body must be an object"),
        ("{z: [0]", "not valid JSON"),
    ],
)
def test_bad_latents_are_400_and_the_server_goes_on(client, body, message):
    response = client.post("/api/decode", data=body, content_type="application/json")
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert_still_serving(client)


def test_oversized_upload_is_413(client):
    response = upload(client, b"\x89PNG" + bytes(30_000))  # over the fixture's 20,000 bytes
    assert response.status_code == 413
    assert "limit" in response.get_json()["error"]
    assert_still_serving(client)


def test_default_limit_is_5_mb(model):
    client = create_app(model).test_client()
    response = upload(client, bytes(5 * 2**20 + 1))
    assert response.status_code == 413
    assert "5.0 MB" in response.get_json()["error"]
    assert_still_serving(client)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"this is not an image", "not an image"),
        (b"%PDF-1.4 not an image either", "not an image"),
        (png_upload()[:60], "damaged or unsupported image"),  # a truncated PNG
        (b"", "empty"),
    ],
)
def test_non_images_are_400(client, data, message):
    response = upload(client, data)
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert_still_serving(client)


def test_decompression_bombs_are_refused_before_decoding(client):
    buffer = io.BytesIO()
    Image.new("1", (8000, 8000)).save(buffer, format="PNG")  # a few KB, 64 M pixels
    response = upload(client, buffer.getvalue())
    assert response.status_code == 400 and "8000x8000 pixels" in response.get_json()["error"]


def test_upload_needs_the_file_field(client):
    response = upload(client, png_upload(), field="file")
    assert response.status_code == 400
    assert "field 'image'" in response.get_json()["error"]


def test_uploads_never_touch_the_disk(client, monkeypatch):
    import werkzeug.formparser

    def no_temp_files(*args, **kwargs):
        raise AssertionError("an upload was spooled to a temporary file")

    # Werkzeug spools uploads over 500 KB to temporary files unless the request says otherwise.
    monkeypatch.setattr(werkzeug.formparser, "SpooledTemporaryFile", no_temp_files)
    app = create_app(tiny_model())
    response = upload(app.test_client(), bytes(1_000_000), filename="/tmp/evil.png")
    assert response.status_code == 400 and "not an image" in response.get_json()["error"]


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/api/interpolate", {"steps": 1}, "'steps' = 1 is out of range [2, 32]"),
        ("/api/interpolate", {"steps": "many"}, "'steps' must be an integer"),
        ("/api/interpolate", {"z_a": [0, 0, 0]}, "missing 'z_b'"),
        ("/api/interpolate", {"z_a": [0, 0, 0], "z_b": [0, 0, 99]}, "z_b[2] = 99 is out of"),
        ("/api/sample", {"seed": -1}, "'seed' = -1 is out of range"),
        ("/api/sample", {"seed": 1.5}, "'seed' must be an integer"),
    ],
)
def test_bad_options_are_400(client, path, body, message):
    response = client.post(path, json=body)
    assert response.status_code == 400 and message in response.get_json()["error"]
    assert_still_serving(client)


def test_unknown_routes_and_methods_are_json(client):
    response = client.get("/api/nope")
    assert response.status_code == 404
    assert response.get_json() == {"error": "no such route: /api/nope"}
    response = client.get("/api/decode")
    assert response.status_code == 405 and "GET is not allowed" in response.get_json()["error"]
    assert client.get("/static/../../etc/passwd").status_code == 404
    assert_still_serving(client)


# ------------------------------------------------------------------- sliders and labels
def test_sliders_show_active_dims_by_kl():
    sliders = make_sliders(4, kl_per_dim=[0.01, 2.0, 0.0, 0.6], labels=["a", "b", "c", "d"])
    assert [(s.dim, s.label) for s in sliders] == [(1, "z1 · b"), (3, "z3 · d")]
    assert [s.dim for s in make_sliders(3, kl_per_dim=[0.0, 0.0, 0.0])] == [0, 1, 2]
    assert [s.label for s in make_sliders(2)] == ["dim 0", "dim 1"]


def test_app_takes_kl_and_threshold(model):
    app = create_app(model, kl_per_dim=[0.3, 0.0, 1.2], kl_threshold=0.1)
    sliders = app.test_client().get("/api/info").get_json()["sliders"]
    assert [(s["dim"], s["kl"]) for s in sliders] == [(2, 1.2), (0, 0.3)]


def test_labels_come_from_the_disentanglement_report(tmp_path):
    folder = tmp_path / "run" / "disentanglement"
    folder.mkdir(parents=True)
    (folder / "broken.json").write_text("{not json")
    (folder / "metrics.json").write_text(json.dumps({"dim_labels": ["shape", "mixed", "posX"]}))
    assert read_dimension_labels(tmp_path / "run", 3) == ["shape", "mixed", "posX"]
    assert read_dimension_labels(tmp_path / "run" / "model", 3) == ["shape", "mixed", "posX"]
    assert read_dimension_labels(tmp_path / "run", 4) is None  # another model's labels
    assert read_dimension_labels(tmp_path / "elsewhere", 3) is None


# ---------------------------------------------------------------------- audio hook
def test_audio_models_get_the_play_hook_but_no_decoding():
    app = create_app(tiny_model((1, 100), likelihood="gaussian"))
    client = app.test_client()
    assert client.get("/api/info").get_json()["modality"] == "audio"
    response = client.post("/api/decode", json={"z": [0, 0, 0]})
    assert response.status_code == 501 and "audio" in response.get_json()["error"]
    assert upload(client, png_upload()).status_code == 501
    assert 'id="play"' in page_html()


# ---------------------------------------------------------------------- real server
def request(url: str, data: bytes | None = None, content_type: str = "application/json"):
    req = urllib.request.Request(url, data=data, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_real_server_survives_bad_requests(model):
    server = make_explorer_server(create_app(model, max_upload_bytes=1000), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        big = (b"--B\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
               b"\r\n" + bytes(200_000) + b"\r\n--B--\r\n")
        assert request(base + "/api/encode", big, "multipart/form-data; boundary=B")[0] == 413
        assert request(base + "/api/decode", b'{"z": [0, 0, 99]}')[0] == 400
        assert request(base + "/nope")[0] == 404
        status, body = request(base + "/api/decode", b'{"z": [0, 0, 1]}')
        assert status == 200 and body["image"].startswith("data:image/png;base64,")
    finally:
        server.shutdown()
        server.server_close()


def test_serve_reports_a_busy_port_in_one_line(tmp_path, capsys):
    tiny_model().save_pretrained(tmp_path / "model")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["serve", str(tmp_path / "model"), "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"cannot listen on 127.0.0.1:{port}" in err and len(err.splitlines()) == 1


def test_serve_and_report_have_help(capsys):
    for command in ("serve", "report"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--host" in out and "--port" in out and "--out" in out
