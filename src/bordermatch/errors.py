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
    │   │   │   └── TruncatedImageError  header claims more pixels than the data holds
    │   │   ├── UnsupportedImageError    decodes, but in a format or mode we refuse
    │   │   ├── ImageTooLargeError       too many bytes, or too many pixels (decompression bomb)
    │   │   ├── WrongResolutionError     a fingerprint not at the resolution its matcher needs
    │   │   ├── NotAFingerprintError     decodes, but holds no fingerprint ridges
    │   │   └── PoorCaptureError         a print below the NFIQ 2 floor (watchlist enrolment)
    │   ├── FaceCountError
    │   │   ├── NoFaceError              no face found where one was required
    │   │   ├── TooManyFacesError        more faces than the operation allows
    │   │   └── AmbiguousFaceError       two faces of similar size near the centre of a photo
    │   ├── ManifestError                malformed gallery, pairs or model-pack manifest
    │   ├── EventError                   malformed lane event folder
    │   ├── UnstorableValueError         NUL, control character, invalid Unicode, overlong
    │   ├── DocumentError                a travel document that cannot be read or trusted
    │   │   ├── LdsError                 a chip file (EF.COM, DG1, DG2) is malformed
    │   │   │   ├── TlvError             BER-TLV structure broken (TlvLengthError: lengths)
    │   │   │   ├── UnknownTagError      a tag where the LDS allows none
    │   │   │   ├── LdsTruncatedError    a face record or image cut short
    │   │   │   └── LdsTooLargeError     a chip file larger than any chip holds (413)
    │   │   ├── InvalidMrzError          a typed or scanned MRZ that fails its checks
    │   │   ├── DocumentReadError        a booth upload that is neither a chip nor an MRZ read
    │   │   └── TrustStoreError          CSCA certificates that cannot be loaded
    │   ├── VectorError                  template vectors of the wrong shape, dtype or norm
    │   ├── TemplateError                a fingerprint template that cannot be parsed
    │   ├── UnknownRecordError           no gallery, encounter, traveller... with that id
    │   └── RecordStateError             the record exists but refuses this (closed, reused key)
    │       └── TravelerConflictError    re-enrolment with other names, citizenship or documents
    ├── ModelError                      a model cannot be used (maps to a start-up failure)
    │   ├── ModelNotFoundError           weight file or carrier package missing
    │   ├── ModelIntegrityError          SHA-256 mismatch, before or after preparation
    │   └── ModelFormatError             the file is not the network its manifest claims
    ├── PermissionRefused               a valid key asks for what it is not bound to (403)
    ├── BusyError                       the process is at its limit of concurrent work (503)
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


class TruncatedImageError(ImageDecodeError):
    """The header promises more pixels than the data can hold (cut short, or lying)."""

    code = "truncated_image"


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


class AmbiguousFaceError(FaceCountError):
    code = "ambiguous_face"


class ManifestError(InputError):
    code = "bad_manifest"


class EventError(InputError):
    code = "bad_event"


class UnstorableValueError(InputError):
    code = "unstorable_value"


class VectorError(InputError):
    code = "bad_vector"


class UnknownRecordError(InputError):
    code = "unknown_record"


class RecordStateError(InputError):
    code = "record_state"


class TravelerConflictError(RecordStateError):
    """A traveller's details change only through a supervisor's audited action."""

    code = "traveler_conflict"


class PermissionRefused(BordermatchError):
    """A key with the right role used outside its scope (another lane's submissions)."""

    code = "forbidden"

    def __init__(self, message: str, code: str = "forbidden") -> None:
        super().__init__(message)
        self.code = code


class BusyError(BordermatchError):
    """Not the caller's fault and not a fault: retry after ``retry_after_s``."""

    code = "busy"

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DecodeBusyError(BusyError):
    code = "decode_busy"


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


# Travel documents (documents/): MRZ, LDS files read from a chip, passive authentication.
class DocumentError(InputError):
    code = "bad_document"


class LdsError(DocumentError):
    code = "bad_lds"


class TlvError(LdsError):
    code = "malformed_tlv"


class TlvLengthError(TlvError):
    code = "tlv_length"


class UnknownTagError(LdsError):
    code = "unknown_tag"


class LdsTruncatedError(LdsError):
    """A chip's face record or image cut short (the LDS twin of TruncatedImageError)."""

    code = "truncated_image"


class LdsTooLargeError(LdsError):
    code = "lds_too_large"


class InvalidMrzError(DocumentError):
    """An MRZ the caller typed or scanned fails a check: a misread to fix, not a finding."""

    code = "invalid_mrz"


class DocumentReadError(DocumentError):
    code = "bad_document_read"


class TrustStoreError(DocumentError):
    code = "trust_store"


# Fingerprint capture and templates (bordermatch.fingerprint).
class WrongResolutionError(ImageError):
    code = "wrong_resolution"


class NotAFingerprintError(ImageError):
    code = "not_a_fingerprint"


class PoorCaptureError(ImageError):
    """A fingerprint below the configured NFIQ 2 score where a recapture cannot be asked
    for in the answer (watchlist enrolment)."""

    code = "poor_capture"


class TemplateError(InputError):
    code = "bad_template"
