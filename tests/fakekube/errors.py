"""Kubernetes `Status` failures, shaped like the real kube-apiserver's.

Handlers raise `ApiError`; the HTTP layer turns it into a Status body with
the same HTTP code, so the official client raises `ApiException(status=code)`.
"""
from __future__ import annotations


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        # The real server omits `details` for path-level failures.
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(group: str, kind: str, name: str | None) -> dict:
    d = {"group": group, "kind": kind} if group else {"kind": kind}
    if name:
        d["name"] = name
    return d


def _qualified(plural: str, group: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(group: str, plural: str, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{_qualified(plural, group)} "{name}" not found',
                    _details(group, plural, name))


def path_not_found() -> ApiError:
    # Unknown URL, unserved group/version or unknown resource type.
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(group: str, plural: str, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{_qualified(plural, group)} "{name}" already exists',
                    _details(group, plural, name))


def conflict(group: str, plural: str, name: str, why: str | None = None) -> ApiError:
    why = why or ("the object has been modified; please apply your changes "
                  "to the latest version and try again")
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {_qualified(plural, group)} "{name}": {why}',
                    _details(group, plural, name))


def invalid(group: str, kind: str, name: str, field: str, detail: str) -> ApiError:
    # Validation failures name the Kind (not the plural), like the real server.
    msg = f"{field}: {detail}"
    details = _details(group, kind, name)
    details["causes"] = [{"reason": "FieldValueInvalid", "message": detail, "field": field}]
    return ApiError(422, "Invalid", f'{kind}{"." + group if group else ""} "{name}" is invalid: {msg}', details)


def patch_failed(message: str) -> ApiError:
    # A JSON patch that cannot be applied (failed `test`, missing path):
    # the real server answers a bare 422 with reason Invalid.
    return ApiError(422, "Invalid", message, {})


def forbidden(group: str, resource: str, name: str | None, user: str, verb: str,
              namespace: str | None) -> ApiError:
    base = resource.split("/")[0]
    subject = _qualified(base, group) + (f' "{name}"' if name else "")
    where = f' in the namespace "{namespace}"' if namespace else ""
    msg = (f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
           f'in API group "{group}"{where}')
    return ApiError(403, "Forbidden", msg, _details(group, resource.split("/")[0], name))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unsupported_media_type(content_type: str, accepted: list[str]) -> ApiError:
    return ApiError(415, "UnsupportedMediaType",
                    f"the body of the request was in an unknown format ({content_type or 'none'}) "
                    f"- accepted media types include: {', '.join(accepted)}")


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource", {})


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)
