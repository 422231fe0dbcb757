"""The mock service as a Starlette app: files, uploads, fine-tuning jobs, models, completions."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ftctl.mock import completions as gen
from ftctl.mock import graders
from ftctl.mock.catalog import BASE_MODELS, BaseModel, snapshot_of
from ftctl.mock.errors import (
    APIError,
    bad_request,
    check_int_range,
    file_not_found,
    invalid_type,
    invalid_url,
    job_not_found,
    missing,
    model_not_found,
    upload_not_found,
)
from ftctl.mock.http import (
    Envelope,
    check_body_size,
    error_response,
    json_body,
    page,
    parse_multipart,
    query_int,
    too_large,
)
from ftctl.mock.store import (
    ACTIVE,
    FileRecord,
    Job,
    Limits,
    Pause,
    Store,
    TunedModel,
    UploadRecord,
    digest,
)
from ftctl.mock.training import DataError, Dataset, Kind, make_plan, read_dataset
from ftctl.tokens import chat_tokens

FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision")
JSONL_MIME_TYPES = ("text/jsonl", "application/jsonl", "application/x-ndjson", "application/json")
JOB_KEYS = frozenset(
    {
        "model",
        "training_file",
        "validation_file",
        "suffix",
        "seed",
        "hyperparameters",
        "method",
        "metadata",
        "integrations",
    }
)
HP_KEYS = {
    "supervised": ("n_epochs", "batch_size", "learning_rate_multiplier"),
    "dpo": ("n_epochs", "batch_size", "learning_rate_multiplier", "beta"),
    "reinforcement": (),
}


def create_app(
    speed: float = 1.0,
    seed: int = 0,
    org: str = "org-mock",
    clock: Callable[[], float] = time.time,
    limits: Limits | None = None,
) -> Starlette:
    """A fresh service with its own state. `clock` is injectable so tests can step time."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    store = Store(speed=speed, seed=seed, org=org, clock=clock, limits=limits)
    api = _Api(store)
    routes = [
        Route("/v1/models", api.list_models, methods=["GET"]),
        Route("/v1/models/{model}", api.retrieve_model, methods=["GET"]),
        Route("/v1/models/{model}", api.delete_model, methods=["DELETE"]),
        Route("/v1/files", api.create_file, methods=["POST"]),
        Route("/v1/files", api.list_files, methods=["GET"]),
        Route("/v1/files/{file_id}", api.retrieve_file, methods=["GET"]),
        Route("/v1/files/{file_id}", api.delete_file, methods=["DELETE"]),
        Route("/v1/files/{file_id}/content", api.file_content, methods=["GET"]),
        Route("/v1/uploads", api.create_upload, methods=["POST"]),
        Route("/v1/uploads/{upload_id}/parts", api.add_part, methods=["POST"]),
        Route("/v1/uploads/{upload_id}/complete", api.complete_upload, methods=["POST"]),
        Route("/v1/uploads/{upload_id}/cancel", api.cancel_upload, methods=["POST"]),
        Route("/v1/fine_tuning/jobs", api.create_job, methods=["POST"]),
        Route("/v1/fine_tuning/jobs", api.list_jobs, methods=["GET"]),
        Route("/v1/fine_tuning/jobs/{job_id}", api.retrieve_job, methods=["GET"]),
        Route("/v1/fine_tuning/jobs/{job_id}/cancel", api.cancel_job, methods=["POST"]),
        Route("/v1/fine_tuning/jobs/{job_id}/pause", api.pause_job, methods=["POST"]),
        Route("/v1/fine_tuning/jobs/{job_id}/resume", api.resume_job, methods=["POST"]),
        Route("/v1/fine_tuning/jobs/{job_id}/events", api.list_events, methods=["GET"]),
        Route("/v1/fine_tuning/jobs/{job_id}/checkpoints", api.list_checkpoints, methods=["GET"]),
        Route("/v1/completions", api.completion, methods=["POST"]),
        Route("/v1/chat/completions", api.chat_completion, methods=["POST"]),
        *graders.routes(),
    ]

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, APIError)
        return error_response(exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        # The service answers unknown paths and unsupported methods alike: 404 "Invalid URL".
        assert isinstance(exc, HTTPException)
        if exc.status_code in (404, 405):
            return error_response(invalid_url(request.method, request.url.path))
        return error_response(APIError(exc.status_code, str(exc.detail)))

    async def on_crash(request: Request, exc: Exception) -> Response:
        return error_response(
            APIError(
                500,
                "The server had an error while processing your request. Sorry about that!",
                type="server_error",
            )
        )

    app = Starlette(
        routes=routes,
        middleware=[Middleware(Envelope, store=store)],
        exception_handlers={
            APIError: on_api_error,
            HTTPException: on_http_error,
            Exception: on_crash,
        },
    )
    app.state.store = store
    return app


def _str_param(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise missing(name)
        return None
    if not isinstance(value, str):
        raise invalid_type(name, "a string", value)
    return value


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_type(name, "an integer", value)
    return check_int_range(name, value, low, high)


def _check_hyperparameters(raw: object, where: str, method: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise invalid_type(where, "an object", raw)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = f"{where}.{key}"
        if key not in HP_KEYS[method]:
            raise APIError(
                400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
            )
        if value == "auto":
            out[key] = "auto"
        elif key == "n_epochs":
            out[key] = _check_int(name, value, 1, 50)
        elif key == "batch_size":
            out[key] = _check_int(name, value, 1, 256)
        else:
            high = 2.0 if key == "beta" else None
            if not _number(value):
                raise invalid_type(name, "a number or 'auto'", value)
            assert isinstance(value, int | float)
            if value <= 0 or (high is not None and value > high):
                bound = f"greater than 0 and at most {high}" if high else "greater than 0"
                raise APIError(
                    400,
                    f"Invalid '{name}': expected a value {bound}, but got {value} instead.",
                    param=name,
                    code="invalid_value",
                )
            out[key] = value
    return out


def _check_metadata(raw: object, param: str = "metadata") -> dict[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise invalid_type(param, "an object", raw)
    if len(raw) > 16:
        raise APIError(
            400,
            f"Invalid '{param}': too many properties. Expected an object with at most 16 "
            f"properties, but got an object with {len(raw)} properties instead.",
            param=param,
            code="object_above_max_properties",
        )
    for key, value in raw.items():
        if len(key) > 64:
            raise APIError(
                400,
                f"Invalid '{param}': key '{key[:20]}...' is too long. Keys may have at most 64 "
                "characters.",
                param=param,
                code="invalid_value",
            )
        if not isinstance(value, str):
            raise invalid_type(f"{param}.{key}", "a string", value)
        if len(value) > 512:
            raise APIError(
                400,
                f"Invalid '{param}.{key}': string too long. Expected a string with maximum length "
                f"512, but got a string with length {len(value)} instead.",
                param=f"{param}.{key}",
                code="string_above_max_length",
            )
    return dict(raw)


def _check_stop(raw: object) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        if len(raw) > 4:
            raise APIError(
                400,
                f"Invalid 'stop': array too long. Expected an array with maximum length 4, but "
                f"got an array with length {len(raw)} instead.",
                param="stop",
                code="array_above_max_length",
            )
        return [str(s) for s in raw]
    raise invalid_type("stop", "a string or an array of strings", raw)


class _Api:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- models ---------------------------------------------------------------------------------
    async def list_models(self, request: Request) -> Response:
        self.store.sync()
        data = [
            {"id": m.id, "object": "model", "created": m.created, "owned_by": "system"}
            for m in BASE_MODELS.values()
        ]
        data += [m.as_json() for m in self.store.models.values()]
        return JSONResponse({"object": "list", "data": data})

    async def retrieve_model(self, request: Request) -> Response:
        self.store.sync()
        name = request.path_params["model"]
        base = BASE_MODELS.get(name)
        if base is not None:
            return JSONResponse(
                {"id": base.id, "object": "model", "created": base.created, "owned_by": "system"}
            )
        tuned = self.store.models.get(name)
        if tuned is None:
            raise model_not_found(name)
        return JSONResponse(tuned.as_json())

    async def delete_model(self, request: Request) -> Response:
        self.store.sync()
        name = request.path_params["model"]
        if name in BASE_MODELS:
            raise APIError(
                403,
                f"You have insufficient permissions for this operation. You may only delete "
                f"models your organization created, not '{name}'.",
                param="model",
                code="insufficient_permissions",
            )
        if name not in self.store.models:
            raise model_not_found(name)
        del self.store.models[name]
        self.store.deleted_models.add(name)
        return JSONResponse({"id": name, "object": "model", "deleted": True})

    # -- files ----------------------------------------------------------------------------------
    async def create_file(self, request: Request) -> Response:
        limit = self.store.limits.file_bytes
        check_body_size(request, limit, "file")
        fields = parse_multipart(request.headers.get("content-type", ""), await request.body())
        now = self.store.sync()
        if "file" not in fields or fields["file"][0] is None:
            raise missing("file")
        if "purpose" not in fields:
            raise missing("purpose")
        purpose = fields["purpose"][1].decode("utf-8", errors="replace")
        if purpose not in FILE_PURPOSES:
            raise APIError(
                400,
                f"Invalid value for 'purpose': '{purpose}'. Expected one of: "
                + ", ".join(f"'{p}'" for p in FILE_PURPOSES)
                + ".",
                param="purpose",
                code="invalid_value",
            )
        filename, content = fields["file"]
        assert filename is not None
        if len(content) > limit:
            raise too_large(limit, "file")
        if purpose == "fine-tune" and not filename.lower().endswith(".jsonl"):
            raise APIError(
                400,
                f"Invalid file format for Fine-Tuning API. Must be .jsonl (got '{filename}').",
                param="file",
                code="invalid_file_format",
            )
        record = self.store.add_file(filename, purpose, content, now)
        return JSONResponse(record.as_json())

    async def list_files(self, request: Request) -> Response:
        self.store.sync()
        query = request.query_params
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise APIError(
                400,
                f"Invalid value for 'order': '{order}'. Expected 'asc' or 'desc'.",
                param="order",
                code="invalid_value",
            )
        limit = query_int(request, "limit", 10_000, 1, 10_000)
        purpose = query.get("purpose")
        records = sorted(
            (f for f in self.store.files.values() if purpose is None or f.purpose == purpose),
            key=lambda f: (f.created_at, f.seq),
            reverse=order == "desc",
        )
        data, has_more = page([f.as_json() for f in records], query.get("after"), limit)
        body: dict[str, Any] = {"object": "list", "data": data, "has_more": has_more}
        # The description requires both ids as strings; an empty page has no ids to give.
        body["first_id"] = data[0]["id"] if data else ""
        body["last_id"] = data[-1]["id"] if data else ""
        return JSONResponse(body)

    def _file(self, request: Request) -> FileRecord:
        file_id = request.path_params["file_id"]
        record = self.store.files.get(file_id)
        if record is None:
            raise file_not_found(file_id)
        return record

    async def retrieve_file(self, request: Request) -> Response:
        self.store.sync()
        return JSONResponse(self._file(request).as_json())

    async def delete_file(self, request: Request) -> Response:
        self.store.sync()
        record = self._file(request)
        del self.store.files[record.id]
        return JSONResponse({"id": record.id, "object": "file", "deleted": True})

    async def file_content(self, request: Request) -> Response:
        self.store.sync()
        record = self._file(request)
        return Response(record.content, media_type="application/octet-stream")

    # -- uploads --------------------------------------------------------------------------------
    def _upload(self, request: Request, now: float) -> UploadRecord:
        upload_id = request.path_params["upload_id"]
        upload = self.store.uploads.get(upload_id)
        if upload is None:
            raise upload_not_found(upload_id)
        status = upload.status_at(now)
        if status != "pending":
            raise bad_request(
                f"Upload {upload_id} is {status}, so it cannot be changed.",
                param="upload_id",
            )
        return upload

    async def create_upload(self, request: Request) -> Response:
        body = await json_body(request)
        now = self.store.sync()
        filename = _str_param(body, "filename", required=True)
        purpose = _str_param(body, "purpose", required=True)
        mime_type = _str_param(body, "mime_type", required=True)
        size = body.get("bytes")
        if size is None:
            raise missing("bytes")
        size = _check_int("bytes", size, 0, self.store.limits.upload_bytes)
        assert filename is not None and purpose is not None and mime_type is not None
        if purpose not in UPLOAD_PURPOSES:
            raise APIError(
                400,
                f"Invalid value for 'purpose': '{purpose}'.",
                param="purpose",
                code="invalid_value",
            )
        if purpose == "fine-tune":
            if not filename.lower().endswith(".jsonl"):
                raise bad_request(
                    "Invalid file format for Fine-Tuning API. Must be .jsonl", param="filename"
                )
            if mime_type not in JSONL_MIME_TYPES:
                raise bad_request(
                    f"Invalid mime type '{mime_type}' for purpose 'fine-tune'. Expected one of: "
                    + ", ".join(JSONL_MIME_TYPES),
                    param="mime_type",
                )
        upload = UploadRecord(
            id=self.store.new_id("upload_"),
            filename=filename,
            purpose=purpose,
            size=size,
            mime_type=mime_type,
            created_at=int(now),
        )
        self.store.uploads[upload.id] = upload
        return JSONResponse(upload.as_json(now))

    async def add_part(self, request: Request) -> Response:
        limit = self.store.limits.part_bytes
        check_body_size(request, limit, "data")
        fields = parse_multipart(request.headers.get("content-type", ""), await request.body())
        now = self.store.sync()
        upload = self._upload(request, now)
        if "data" not in fields:
            raise missing("data")
        data = fields["data"][1]
        if len(data) > limit:
            raise too_large(limit, "data")
        part_id = self.store.new_id("part_")
        upload.parts[part_id] = data
        return JSONResponse(
            {"id": part_id, "object": "upload.part", "created_at": int(now), "upload_id": upload.id}
        )

    async def complete_upload(self, request: Request) -> Response:
        body = await json_body(request)
        now = self.store.sync()
        upload = self._upload(request, now)
        part_ids = body.get("part_ids")
        if part_ids is None:
            raise missing("part_ids")
        if not isinstance(part_ids, list) or not all(isinstance(p, str) for p in part_ids):
            raise invalid_type("part_ids", "an array of strings", part_ids)
        unknown = [p for p in part_ids if p not in upload.parts]
        if unknown:
            raise bad_request(
                f"Part {unknown[0]} does not belong to upload {upload.id}.", param="part_ids"
            )
        content = b"".join(upload.parts[p] for p in part_ids)
        if len(content) != upload.size:
            raise bad_request(
                f"The number of bytes uploaded ({len(content)}) does not match the number of "
                f"bytes declared when the upload was created ({upload.size}).",
                param="part_ids",
            )
        md5 = body.get("md5")
        if md5 is not None and (
            not isinstance(md5, str) or hashlib.md5(content).hexdigest() != md5.lower()
        ):
            raise bad_request("The md5 checksum does not match the uploaded bytes.", param="md5")
        upload.file = self.store.add_file(upload.filename, upload.purpose, content, now)
        upload.status = "completed"
        return JSONResponse(upload.as_json(now))

    async def cancel_upload(self, request: Request) -> Response:
        now = self.store.sync()
        upload = self._upload(request, now)
        upload.status = "cancelled"
        return JSONResponse(upload.as_json(now))

    # -- fine-tuning jobs -----------------------------------------------------------------------
    def _job(self, request: Request) -> Job:
        job_id = request.path_params["job_id"]
        job = self.store.jobs.get(job_id)
        if job is None:
            raise job_not_found(job_id)
        return job

    def _job_json(self, job: Job, now: float) -> dict[str, Any]:
        return job.as_json(now, self.store.org)

    def _training_file(self, body: dict[str, Any], param: str, required: bool) -> str | None:
        file_id = _str_param(body, param, required=required)
        if file_id is None:
            return None
        record = self.store.files.get(file_id)
        if record is None:
            raise bad_request(f"invalid {param}: {file_id}", param=param)
        if record.purpose != "fine-tune":
            raise bad_request(
                f"File {file_id} has purpose '{record.purpose}'; fine-tuning needs a file "
                "uploaded with purpose 'fine-tune'.",
                param=param,
                code="invalid_file_purpose",
            )
        return file_id

    async def create_job(self, request: Request) -> Response:
        body = await json_body(request)
        now = self.store.sync()
        for key in body:
            if key not in JOB_KEYS:
                raise APIError(
                    400,
                    f"Unrecognized request argument supplied: {key}",
                    param=key,
                    code="unknown_parameter",
                )
        model = _str_param(body, "model", required=True)
        assert model is not None
        base, source = self._tunable(model)
        training_file = self._training_file(body, "training_file", True)
        assert training_file is not None
        validation_file = self._training_file(body, "validation_file", False)
        suffix = body.get("suffix")
        if suffix is not None:
            if not isinstance(suffix, str):
                raise invalid_type("suffix", "a string", suffix)
            if not 1 <= len(suffix) <= 64:
                raise APIError(
                    400,
                    f"Invalid 'suffix': string length must be between 1 and 64 characters, "
                    f"but got {len(suffix)}.",
                    param="suffix",
                    code="invalid_value",
                )
        seed = body.get("seed")
        if seed is not None:
            seed = _check_int("seed", seed, 0, 2_147_483_647)
        method_type, requested = self._method(body, base)
        metadata = _check_metadata(body.get("metadata"))
        integrations = body.get("integrations") or []
        if not isinstance(integrations, list) or len(integrations) > 5:
            raise invalid_type("integrations", "an array of at most 5 integrations", integrations)
        for i, item in enumerate(integrations):
            if not isinstance(item, dict) or item.get("type") != "wandb":
                raise bad_request(
                    "Only 'wandb' integrations are supported.", param=f"integrations[{i}].type"
                )
            wandb = item.get("wandb")
            if not isinstance(wandb, dict) or not isinstance(wandb.get("project"), str):
                raise missing(f"integrations[{i}].wandb.project")
        active = self.store.active_jobs(now)
        if len(active) >= self.store.limits.active_jobs:
            soonest = min(j.real(j.end) for j in active)
            retry = max(1, int(soonest - now) + 1)
            raise APIError(
                429,
                f"This fine-tune request has been rate-limited. Your organization has reached the "
                f"maximum of {self.store.limits.active_jobs} active fine-tuning jobs "
                f"({len(active)} active).",
                type="requests",
                code="rate_limit_exceeded",
                headers={"retry-after": str(retry)},
            )
        job_seed = seed if seed is not None else self.store.rng.randrange(2**31)
        job_id = self.store.new_id("ftjob-")
        short = self.store.new_id("", 8)
        result_id = self.store.new_id("file-")
        kind: Kind = (
            "dpo"
            if method_type == "dpo"
            else "reinforcement"
            if method_type == "reinforcement"
            else ("chat" if base.chat else "completion")
        )
        train: Dataset | None = None
        failure: tuple[str, str] | None = None
        valid: Dataset | None = None
        try:
            train = read_dataset(
                self.store.files[training_file].content,
                kind=kind,
                model=base.id,
                param="training_file",
            )
            if validation_file is not None:
                valid = read_dataset(
                    self.store.files[validation_file].content,
                    kind=kind,
                    model=base.id,
                    param="validation_file",
                )
        except DataError as exc:
            failure = (exc.message, exc.param)
            train = None
        plan = None
        if train is not None and failure is None:

            def given(key: str) -> Any:
                value = requested.get(key, "auto")
                return None if value == "auto" else value

            plan = make_plan(
                train,
                seed=job_seed,
                has_validation=valid is not None,
                n_epochs=given("n_epochs"),
                batch_size=given("batch_size"),
                learning_rate_multiplier=given("learning_rate_multiplier"),
                beta=(given("beta") or 0.1) if method_type == "dpo" else None,
            )
        job = Job(
            id=job_id,
            base=base,
            model=source,
            created_real=now,
            training_file=training_file,
            validation_file=validation_file,
            suffix=suffix,
            seed=job_seed,
            metadata=metadata,
            method_type=method_type,
            requested=requested,
            integrations=integrations,
            fine_tuned_model=f"ft:{snapshot_of(base)}:{self.store.org}:{suffix or ''}:{short}",
            result_file_id=result_id,
            train=train,
            plan=plan,
            failure=failure,
            speed=self.store.speed,
        )
        self.store.jobs[job_id] = job
        return JSONResponse(self._job_json(job, now))

    def _tunable(self, model: str) -> tuple[BaseModel, str]:
        """(base model, the name the job reports) for a model that may be fine-tuned."""
        base = BASE_MODELS.get(model)
        if base is not None and base.tunable:
            return base, snapshot_of(base)
        tuned = self.store.models.get(model)
        if tuned is not None:  # continued fine-tuning of one of your own tunes
            return tuned.base, tuned.id
        raise APIError(
            400,
            f"Model {model} is not available for fine-tuning or does not exist.",
            param="model",
            code="model_not_available",
        )

    def _method(self, body: dict[str, Any], base: BaseModel) -> tuple[str, dict[str, Any]]:
        legacy = _check_hyperparameters(
            body.get("hyperparameters"), "hyperparameters", "supervised"
        )
        method = body.get("method")
        if method is None:
            return "supervised", self._defaults("supervised", legacy)
        if not isinstance(method, dict):
            raise invalid_type("method", "an object", method)
        kind = method.get("type")
        if kind is None:
            raise missing("method.type")
        if kind not in ("supervised", "dpo", "reinforcement"):
            raise APIError(
                400,
                f"Invalid value for 'method.type': '{kind}'. Expected 'supervised', 'dpo' or "
                "'reinforcement'.",
                param="method.type",
                code="invalid_value",
            )
        if kind not in base.methods:
            raise bad_request(
                f"Model {base.id} does not support the '{kind}' fine-tuning method.",
                param="method.type",
            )
        section = method.get(kind) or {}
        if not isinstance(section, dict):
            raise invalid_type(f"method.{kind}", "an object", section)
        given = _check_hyperparameters(
            section.get("hyperparameters"), f"method.{kind}.hyperparameters", kind
        )
        if legacy and given and legacy != {k: v for k, v in given.items() if k != "beta"}:
            raise bad_request(
                "Pass hyperparameters either in 'method' or in the deprecated top-level "
                "'hyperparameters', not both.",
                param="hyperparameters",
            )
        return kind, self._defaults(kind, {**legacy, **given})

    @staticmethod
    def _defaults(kind: str, given: dict[str, Any]) -> dict[str, Any]:
        return {key: given.get(key, "auto") for key in HP_KEYS[kind]}

    async def list_jobs(self, request: Request) -> Response:
        now = self.store.sync()
        limit = query_int(request, "limit", 20, 1, 100)
        filters: dict[str, str] = {}
        want_none = False
        for key, value in request.query_params.multi_items():
            match = re.fullmatch(r"metadata\[(.+)\]", key)
            if match:
                filters[match.group(1)] = value
            elif key == "metadata" and value == "null":
                want_none = True
        jobs = []
        for job in reversed(list(self.store.jobs.values())):
            meta = job.metadata or {}
            if want_none and meta:
                continue
            if any(meta.get(k) != v for k, v in filters.items()):
                continue
            jobs.append(self._job_json(job, now))
        data, has_more = page(jobs, request.query_params.get("after"), limit)
        return JSONResponse({"object": "list", "data": data, "has_more": has_more})

    async def retrieve_job(self, request: Request) -> Response:
        now = self.store.sync()
        return JSONResponse(self._job_json(self._job(request), now))

    async def cancel_job(self, request: Request) -> Response:
        now = self.store.sync()
        job = self._job(request)
        status = job.status(now)
        if status not in ACTIVE:
            raise bad_request(
                f"Job {job.id} has already {status} and cannot be cancelled.",
                param="fine_tuning_job_id",
            )
        # A paused job stays paused up to the cancel (no "resumed" event); the clock stops there.
        job.cancelled_real = now
        return JSONResponse(self._job_json(job, now))

    async def pause_job(self, request: Request) -> Response:
        now = self.store.sync()
        job = self._job(request)
        status = job.status(now)
        if status != "running":
            raise bad_request(
                f"Job {job.id} is {status}; only a running job can be paused.",
                param="fine_tuning_job_id",
            )
        job.pauses.append(Pause(sim_at=job.sim(now), real_start=now))
        return JSONResponse(self._job_json(job, now))

    async def resume_job(self, request: Request) -> Response:
        now = self.store.sync()
        job = self._job(request)
        status = job.status(now)
        if status != "paused":
            raise bad_request(
                f"Job {job.id} is {status}; only a paused job can be resumed.",
                param="fine_tuning_job_id",
            )
        job.pauses[-1].real_end = now
        return JSONResponse(self._job_json(job, now))

    async def list_events(self, request: Request) -> Response:
        now = self.store.sync()
        job = self._job(request)
        limit = query_int(request, "limit", 20, 1, 10_000)
        data, has_more = page(job.events(now), request.query_params.get("after"), limit)
        return JSONResponse({"object": "list", "data": data, "has_more": has_more})

    async def list_checkpoints(self, request: Request) -> Response:
        now = self.store.sync()
        job = self._job(request)
        limit = query_int(request, "limit", 10, 1, 100)
        data, has_more = page(job.checkpoints(now), request.query_params.get("after"), limit)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "has_more": has_more,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        )

    # -- completions ----------------------------------------------------------------------------
    def _sampling_model(self, name: str, now: float) -> tuple[BaseModel, TunedModel | None]:
        base = BASE_MODELS.get(name)
        if base is not None:
            return base, None
        tuned = self.store.tuned_or_checkpoint(name, now)
        if tuned is None:
            raise APIError(
                404,
                f"The model `{name}` does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        return tuned.base, tuned

    @staticmethod
    def _common(body: dict[str, Any]) -> tuple[int, list[str], bool, bool]:
        n = body.get("n")
        n = 1 if n is None else _check_int("n", n, 1, 128)
        stop = _check_stop(body.get("stop"))
        stream = bool(body.get("stream") or False)
        options = body.get("stream_options") or {}
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        return n, stop, stream, include_usage

    async def completion(self, request: Request) -> Response:
        body = await json_body(request)
        now = self.store.sync()
        name = _str_param(body, "model", required=True)
        assert name is not None
        base, tuned = self._sampling_model(name, now)
        if base.chat:
            raise APIError(
                404,
                "This is a chat model and not supported in the v1/completions endpoint. "
                "Did you mean to use v1/chat/completions?",
                param="model",
            )
        if "prompt" not in body:
            raise missing("prompt")
        from ftctl.tokens import encoding_for_model

        enc = encoding_for_model(base.id)
        prompts = _prompts(body["prompt"], enc)
        max_tokens = body.get("max_tokens")
        max_tokens = 16 if max_tokens is None else _check_int("max_tokens", max_tokens, 0, 1 << 20)
        n, stop, stream, include_usage = self._common(body)
        echo = bool(body.get("echo") or False)
        choices: list[tuple[str, str]] = []
        completion_tokens = prompt_tokens = 0
        for prompt in prompts:
            prompt_tokens += len(enc.encode_ordinary(prompt))
            for _ in range(n):
                pieces = gen.learned_text(tuned.pairs, prompt) if tuned else gen.base_text(prompt)
                choice = gen.generate(
                    pieces, enc=enc, max_tokens=max_tokens, stop=stop, natural_pieces=None
                )
                completion_tokens += len(choice.tokens)
                text = (prompt + choice.text) if echo else choice.text
                choices.append((text, choice.finish_reason))
        model_name = tuned.id if tuned else snapshot_of(base)
        completion_id = "cmpl-" + _short(self.store, request)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        head = {
            "id": completion_id,
            "object": "text_completion",
            "created": int(now),
            "model": model_name,
        }
        if not stream:
            return JSONResponse(
                {
                    **head,
                    "choices": [
                        {"text": text, "index": i, "logprobs": None, "finish_reason": reason}
                        for i, (text, reason) in enumerate(choices)
                    ],
                    "usage": usage,
                }
            )

        def chunks() -> Iterator[dict[str, Any]]:
            for i, (text, reason) in enumerate(choices):
                fake = gen.Choice(text, reason, enc.encode_ordinary(text))
                for piece in gen.token_pieces(fake, enc):
                    yield {
                        **head,
                        "choices": [
                            {"text": piece, "index": i, "logprobs": None, "finish_reason": None}
                        ],
                    }
                yield {
                    **head,
                    "choices": [
                        {"text": "", "index": i, "logprobs": None, "finish_reason": reason}
                    ],
                }
            if include_usage:
                yield {**head, "choices": [], "usage": usage}

        return _sse(chunks())

    async def chat_completion(self, request: Request) -> Response:
        body = await json_body(request)
        now = self.store.sync()
        name = _str_param(body, "model", required=True)
        assert name is not None
        base, tuned = self._sampling_model(name, now)
        if not base.chat:
            raise APIError(
                404,
                "This is not a chat model and thus not supported in the v1/chat/completions "
                "endpoint. Did you mean to use v1/completions?",
                param="model",
            )
        messages = body.get("messages")
        if messages is None:
            raise missing("messages")
        if not isinstance(messages, list) or not messages:
            raise invalid_type("messages", "a non-empty array", messages)
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise missing(f"messages[{i}].role")
        from ftctl.tokens import encoding_for_model

        enc = encoding_for_model(base.id)
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        max_tokens = None if limit is None else _check_int("max_tokens", limit, 1, 1 << 20)
        n, stop, stream, include_usage = self._common(body)
        user = ""
        for message in reversed(messages):
            if message.get("role") == "user":
                user = gen.message_text(message)
                break
        answers = []
        completion_tokens = 0
        for _ in range(n):
            if tuned:
                pieces = gen.learned_text(tuned.pairs, user)
                natural = 1
            else:
                pieces = gen.base_text(user)
                natural = 2
            choice = gen.generate(
                pieces, enc=enc, max_tokens=max_tokens, stop=stop, natural_pieces=natural
            )
            text = choice.text.strip() if not tuned else choice.text
            choice = gen.Choice(text, choice.finish_reason, enc.encode_ordinary(text))
            completion_tokens += len(choice.tokens)
            answers.append(choice)
        prompt_tokens = chat_tokens(messages, enc)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        head = {
            "id": "chatcmpl-" + _short(self.store, request),
            "created": int(now),
            "model": tuned.id if tuned else snapshot_of(base),
            "service_tier": "default",
        }
        if not stream:
            return JSONResponse(
                {
                    **head,
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": i,
                            "message": {
                                "role": "assistant",
                                "content": c.text,
                                "refusal": None,
                                "annotations": [],
                            },
                            "logprobs": None,
                            "finish_reason": c.finish_reason,
                        }
                        for i, c in enumerate(answers)
                    ],
                    "usage": usage,
                }
            )
        chunk_head = {**head, "object": "chat.completion.chunk"}

        def chunks() -> Iterator[dict[str, Any]]:
            extra: dict[str, Any] = {"usage": None} if include_usage else {}
            for i, c in enumerate(answers):
                yield {
                    **chunk_head,
                    "choices": [
                        {
                            "index": i,
                            "delta": {"role": "assistant", "content": "", "refusal": None},
                            "logprobs": None,
                            "finish_reason": None,
                        }
                    ],
                    **extra,
                }
                for piece in gen.token_pieces(c, enc):
                    yield {
                        **chunk_head,
                        "choices": [
                            {
                                "index": i,
                                "delta": {"content": piece},
                                "logprobs": None,
                                "finish_reason": None,
                            }
                        ],
                        **extra,
                    }
                yield {
                    **chunk_head,
                    "choices": [
                        {
                            "index": i,
                            "delta": {},
                            "logprobs": None,
                            "finish_reason": c.finish_reason,
                        }
                    ],
                    **extra,
                }
            if include_usage:
                yield {**chunk_head, "choices": [], "usage": usage}

        return _sse(chunks())


def _short(store: Store, request: Request) -> str:
    """A completion id derived from the request id, so it is stable for a given seed."""
    request_id = getattr(request.state, "request_id", "")
    return digest(f"{store.seed}:{request_id}", 29)


def _prompts(raw: object, enc: Any) -> list[str]:
    """`prompt` as the API takes it: a string, strings, token ids, or lists of token ids."""
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw:
        if all(isinstance(p, str) for p in raw):
            return [str(p) for p in raw]
        if all(isinstance(t, int) and not isinstance(t, bool) for t in raw):
            return [enc.decode(raw)]
        if all(isinstance(p, list) and all(isinstance(t, int) for t in p) for p in raw):
            return [enc.decode(p) for p in raw]
    raise invalid_type("prompt", "a string, an array of strings or an array of tokens", raw)


def _sse(chunks: Iterator[dict[str, Any]]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return StreamingResponse(
        body(), media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )
