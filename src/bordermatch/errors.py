"""The bordermatch exception tree.

Every error the package raises on purpose derives from :class:`BordermatchError`, so callers
can catch one type at the edge (CLI exit codes, HTTP problem responses) and still tell the
cases apart::

    BordermatchError
    ├── InputError                      the caller's data is unusable (maps to HTTP 4xx)
    │   ├── ImageError
    │   │   ├── ImageNotFoundError       the named file does not exist
    │   │   ├── EmptyImageError          0-byte upload
    │   │   ├── ImageDecodeError         corrupt, truncated or not an image at all
    │   │   ├── UnsupportedImageError    decodes, but in a format or mode we refuse
    │   │   └── ImageTooLargeError       too many bytes, or too many pixels (decompression bomb)
    │   ├── FaceCountError
    │   │   ├── NoFaceError              no face found where one was required
    │   │   └── TooManyFacesError        more faces than the operation allows
    │   ├── ManifestError                malformed gallery, pairs or model-pack manifest
    │   ├── EventError                   malformed lane event folder
    │   ├── VectorError                  template vectors of the wrong shape, dtype or norm
    │   ├── UnknownRecordError           no gallery, encounter, traveller... with that id
    │   └── RecordStateError             the record exists but refuses this (closed, reused key)
    ├── ModelError                      a model cannot be used (maps to a start-up failure)
    │   ├── ModelNotFoundError           weight file or carrier package missing
    │   ├── ModelIntegrityError          SHA-256 mismatch, before or after preparation
    │   └── ModelFormatError             the file is not the network its manifest claims
    ├── StorageError                    persisted data cannot be served
    │   ├── BlobNotFoundError            no blob with that id (never stored, or deleted)
    │   └── BlobIntegrityError           tampered, swapped, truncated, or its key is retired
    ├── ConfigError                     settings that contradict each other
    └── MetricError                     metric inputs that make no sense (empty, NaN, bad labels)

Error codes (``code``) are stable strings used in JSON output, e.g. ``"no_face"``.
"""

from __future__ import annotations


class BordermatchError(Exception):
    code = "error"


class InputError(BordermatchError):
    code = "bad_input"


class ImageError(InputError):
    code = "bad_image"


class ImageNotFoundError(ImageError):
    code = "not_found"


class EmptyImageError(ImageError):
    code = "empty_image"


class ImageDecodeError(ImageError):
    code = "corrupt_image"


class UnsupportedImageError(ImageError):
    code = "unsupported_image"


class ImageTooLargeError(ImageError):
    code = "image_too_large"


class FaceCountError(InputError):
    code = "face_count"


class NoFaceError(FaceCountError):
    code = "no_face"


class TooManyFacesError(FaceCountError):
    code = "too_many_faces"


class ManifestError(InputError):
    code = "bad_manifest"


class EventError(InputError):
    code = "bad_event"


class VectorError(InputError):
    code = "bad_vector"


class UnknownRecordError(InputError):
    code = "unknown_record"


class RecordStateError(InputError):
    code = "record_state"


class StorageError(BordermatchError):
    code = "storage_error"


class BlobNotFoundError(StorageError):
    code = "blob_not_found"


class BlobIntegrityError(StorageError):
    code = "blob_integrity"


class ModelError(BordermatchError):
    code = "model_error"


class ModelNotFoundError(ModelError):
    code = "model_not_found"


class ModelIntegrityError(ModelError):
    code = "model_integrity"


class ModelFormatError(ModelError):
    code = "model_format"


class ConfigError(BordermatchError):
    code = "config_error"


class MetricError(BordermatchError, ValueError):
    code = "metric_error"


# Fingerprint capture and templates (bordermatch.fingerprint). Tree: ImageError gains
# WrongResolutionError and NotAFingerprintError; InputError gains TemplateError.
class WrongResolutionError(ImageError):
    code = "wrong_resolution"


class NotAFingerprintError(ImageError):
    code = "not_a_fingerprint"


class TemplateError(InputError):
    code = "bad_template"
