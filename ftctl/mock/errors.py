"""Every error the mock sends, in one place: `APIError` (the API's error body,
`{"error": {"message", "type", "param", "code"}}`) and one constructor per kind of failure.

Messages and codes follow what the real service sends (see the recorded exchanges), so clients that
branch on `code` or `param` behave the same against the mock. Handlers and the store raise these;
nothing else spells an error text.
"""

from __future__ import annotations

from collections.abc import Iterable

from ftctl.graders.validation import type_name


class APIError(Exception):
    """An error response: HTTP status plus the four fields of the body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


# -- the request as a whole ---------------------------------------------------------------------
NO_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
    "username) if you're accessing the API from your browser and are prompted for a username. "
    "You can obtain an API key from https://platform.openai.com/account/api-keys."
)


def no_api_key() -> APIError:
    return APIError(401, NO_KEY_MESSAGE)


def invalid_api_key() -> APIError:
    # The service echoes a masked key; the mock echoes none, so no form of a key is ever logged.
    return APIError(
        401,
        "Incorrect API key provided. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def invalid_url(method: str, path: str) -> APIError:
    return APIError(404, f"Invalid URL ({method} {path})")


def server_error() -> APIError:
    return APIError(
        500,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
    )


def overloaded() -> APIError:
    return APIError(
        503,
        "The server is overloaded or not ready yet.",
        type="server_error",
    )


def too_many_requests(retry_after: int) -> APIError:
    return APIError(
        429,
        "Rate limit reached for requests. Please try again in a moment.",
        type="requests",
        code="rate_limit_exceeded",
        headers={"retry-after": str(retry_after)},
    )


def http_error(status: int, detail: str) -> APIError:
    return APIError(status, detail)


def invalid_json() -> APIError:
    return APIError(
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you "
        "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but "
        "what was sent was not valid JSON. If you have trouble figuring out how to fix this, "
        "please contact us through our help center at help.openai.com.)",
    )


def body_not_object() -> APIError:
    return APIError(400, "The request body must be a JSON object.")


def too_deep(limit: int) -> APIError:
    return APIError(
        400,
        f"The JSON body of your request is nested too deeply (more than {limit} levels).",
        code="invalid_value",
    )


def not_multipart() -> APIError:
    return APIError(400, "The request must be multipart/form-data.")


def too_large(limit: int, param: str) -> APIError:
    mb = limit / (1024 * 1024)
    size = f"{mb:.0f} MB" if mb >= 1 else f"{limit} bytes"
    return APIError(
        413,
        f"File is too large. The maximum size is {size}.",
        param=param,
        code="file_too_large",
    )


def body_too_large(limit: int) -> APIError:
    return APIError(
        413,
        f"The request body is too large. The maximum size is {limit // (1024 * 1024)} MB.",
        code="request_too_large",
    )


# -- parameters ---------------------------------------------------------------------------------
def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def missing(param: str) -> APIError:
    return APIError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def unrecognized_argument(param: str) -> APIError:
    return APIError(
        400,
        f"Unrecognized request argument supplied: {param}",
        param=param,
        code="unknown_parameter",
    )


def unknown_parameter(param: str) -> APIError:
    return APIError(400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


def invalid_type(param: str, expected: str, value: object) -> APIError:
    return APIError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {type_name(value)} instead.",
        param=param,
        code="invalid_type",
    )


def invalid_value(param: str, message: str) -> APIError:
    return APIError(400, message, param=param, code="invalid_value")


def not_finite(param: str) -> APIError:
    return APIError(
        400,
        f"Invalid '{param}': expected a finite number, but got NaN or Infinity instead.",
        param=param,
        code="invalid_value",
    )


def query_not_integer(param: str) -> APIError:
    return APIError(
        400, f"Invalid '{param}': expected an integer.", param=param, code="invalid_type"
    )


def integer_below(param: str, low: int, value: int) -> APIError:
    return APIError(
        400,
        f"Invalid '{param}': integer below minimum value. Expected a value >= {low}, "
        f"but got {value} instead.",
        param=param,
        code="integer_below_min_value",
    )


def integer_above(param: str, high: int, value: object) -> APIError:
    return APIError(
        400,
        f"Invalid '{param}': integer above maximum value. Expected a value <= {high}, "
        f"but got {value} instead.",
        param=param,
        code="integer_above_max_value",
    )


def check_int_range(name: str, value: int, low: int, high: int) -> int:
    """`value`, or the service's 400 for an integer outside [low, high]."""
    if value < low:
        raise integer_below(name, low, value)
    if value > high:
        raise integer_above(name, high, value)
    return value


def one_of(param: str, value: str, allowed: Iterable[str]) -> APIError:
    names = ", ".join(f"'{a}'" for a in allowed)
    return invalid_value(
        param, f"Invalid value for '{param}': '{value}'. Expected one of: {names}."
    )


def invalid_order(value: str) -> APIError:
    return invalid_value(
        "order", f"Invalid value for 'order': '{value}'. Expected 'asc' or 'desc'."
    )


def string_length(param: str, low: int, high: int, length: int) -> APIError:
    return invalid_value(
        param,
        f"Invalid '{param}': string length must be between {low} and {high} characters, "
        f"but got {length}.",
    )


def string_too_long(param: str, high: int, length: int) -> APIError:
    return APIError(
        400,
        f"Invalid '{param}': string too long. Expected a string with maximum length {high}, "
        f"but got a string with length {length} instead.",
        param=param,
        code="string_above_max_length",
    )


def array_too_long(param: str, high: int, length: int) -> APIError:
    return APIError(
        400,
        f"Invalid '{param}': array too long. Expected an array with maximum length {high}, but "
        f"got an array with length {length} instead.",
        param=param,
        code="array_above_max_length",
    )


def too_many_properties(param: str, high: int, count: int) -> APIError:
    return APIError(
        400,
        f"Invalid '{param}': too many properties. Expected an object with at most {high} "
        f"properties, but got an object with {count} properties instead.",
        param=param,
        code="object_above_max_properties",
    )


def key_too_long(param: str, key: str, high: int) -> APIError:
    return invalid_value(
        param,
        f"Invalid '{param}': key '{key[:20]}...' is too long. Keys may have at most {high} "
        "characters.",
    )


def token_out_of_range(param: str, token: int, vocabulary: int) -> APIError:
    return invalid_value(
        param,
        f"Invalid '{param}': token id {token} is not in this model's vocabulary "
        f"(ids 0 to {vocabulary - 1}).",
    )


def max_tokens_too_large(param: str, value: int, high: int) -> APIError:
    return invalid_value(
        param,
        f"max_tokens is too large: {value}. This model supports at most {high} completion "
        f"tokens, whereas you provided {value}.",
    )


# -- models -------------------------------------------------------------------------------------
def model_not_found(model: str) -> APIError:
    return APIError(
        404,
        f"The model '{model}' does not exist",
        param="model",
        code="model_not_found",
    )


def sampling_model_not_found(model: str) -> APIError:
    return APIError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        param="model",
        code="model_not_found",
    )


def cannot_delete_model(model: str) -> APIError:
    return APIError(
        403,
        f"You have insufficient permissions for this operation. You may only delete "
        f"models your organization created, not '{model}'.",
        param="model",
        code="insufficient_permissions",
    )


def chat_model_on_completions() -> APIError:
    return APIError(
        404,
        "This is a chat model and not supported in the v1/completions endpoint. "
        "Did you mean to use v1/chat/completions?",
        param="model",
    )


def completion_model_on_chat() -> APIError:
    return APIError(
        404,
        "This is not a chat model and thus not supported in the v1/chat/completions "
        "endpoint. Did you mean to use v1/completions?",
        param="model",
    )


# -- files and uploads --------------------------------------------------------------------------
def file_not_found(file_id: str) -> APIError:
    return APIError(404, f"No such File object: {file_id}", param="id")


def download_refused(purpose: str) -> APIError:
    # The service keeps training uploads to itself; only results and other purposes come back.
    return APIError(400, f"Not allowed to download files of purpose: {purpose}")


def not_jsonl_file(filename: str) -> APIError:
    return APIError(
        400,
        f"Invalid file format for Fine-Tuning API. Must be .jsonl (got '{filename}').",
        param="file",
        code="invalid_file_format",
    )


def upload_not_found(upload_id: str) -> APIError:
    return APIError(404, f"No such Upload object: {upload_id}", param="upload_id")


def upload_purpose(purpose: str) -> APIError:
    return invalid_value("purpose", f"Invalid value for 'purpose': '{purpose}'.")


def upload_not_jsonl() -> APIError:
    return bad_request("Invalid file format for Fine-Tuning API. Must be .jsonl", param="filename")


def upload_mime_type(mime_type: str, allowed: Iterable[str]) -> APIError:
    return bad_request(
        f"Invalid mime type '{mime_type}' for purpose 'fine-tune'. Expected one of: "
        + ", ".join(allowed),
        param="mime_type",
    )


def upload_not_pending(upload_id: str, status: str) -> APIError:
    return bad_request(
        f"Upload {upload_id} is {status}, so it cannot be changed.", param="upload_id"
    )


def part_not_in_upload(part_id: str, upload_id: str) -> APIError:
    return bad_request(f"Part {part_id} does not belong to upload {upload_id}.", param="part_ids")


def upload_size_mismatch(got: int, declared: int) -> APIError:
    return bad_request(
        f"The number of bytes uploaded ({got}) does not match the number of "
        f"bytes declared when the upload was created ({declared}).",
        param="part_ids",
    )


def md5_mismatch() -> APIError:
    return bad_request("The md5 checksum does not match the uploaded bytes.", param="md5")


# -- fine-tuning jobs ---------------------------------------------------------------------------
def job_not_found(job_id: str) -> APIError:
    return APIError(
        404,
        f"Could not find fine tune: {job_id}",
        param="fine_tune_id",
        code="fine_tune_not_found",
    )


def model_not_tunable(model: str) -> APIError:
    return APIError(
        400,
        f"Model {model} is not available for fine-tuning or does not exist.",
        param="model",
        code="model_not_available",
    )


def training_file_not_found(param: str, file_id: str) -> APIError:
    return bad_request(f"invalid {param}: {file_id}", param=param)


def training_file_purpose(param: str, file_id: str, purpose: str) -> APIError:
    return bad_request(
        f"File {file_id} has purpose '{purpose}'; fine-tuning needs a file "
        "uploaded with purpose 'fine-tune'.",
        param=param,
        code="invalid_file_purpose",
    )


def method_not_supported(model: str, method: str) -> APIError:
    return bad_request(
        f"Model {model} does not support the '{method}' fine-tuning method.", param="method.type"
    )


def invalid_method_type(kind: object) -> APIError:
    return invalid_value(
        "method.type",
        f"Invalid value for 'method.type': '{kind}'. Expected 'supervised', 'dpo' or "
        "'reinforcement'.",
    )


def hyperparameters_twice() -> APIError:
    return bad_request(
        "Pass hyperparameters either in 'method' or in the deprecated top-level "
        "'hyperparameters', not both.",
        param="hyperparameters",
    )


def only_wandb(index: int) -> APIError:
    return bad_request(
        "Only 'wandb' integrations are supported.", param=f"integrations[{index}].type"
    )


def too_many_active_jobs(limit: int, active: int, retry_after: int) -> APIError:
    return APIError(
        429,
        f"This fine-tune request has been rate-limited. Your organization has reached the "
        f"maximum of {limit} active fine-tuning jobs ({active} active).",
        type="requests",
        code="rate_limit_exceeded",
        headers={"retry-after": str(retry_after)},
    )


def cannot_cancel(job_id: str, status: str) -> APIError:
    return bad_request(
        f"Job {job_id} has already {status} and cannot be cancelled.",
        param="fine_tuning_job_id",
    )


def cannot_pause(job_id: str, status: str) -> APIError:
    return bad_request(
        f"Job {job_id} is {status}; only a running job can be paused.",
        param="fine_tuning_job_id",
    )


def cannot_resume(job_id: str, status: str) -> APIError:
    return bad_request(
        f"Job {job_id} is {status}; only a paused job can be resumed.",
        param="fine_tuning_job_id",
    )


# -- sampling: chat and completions arguments ---------------------------------------------------
def unrecognized_sampling_argument(name: str) -> APIError:
    # Chat and completions name no `param` for these, unlike the fine-tuning endpoints.
    return APIError(400, f"Unrecognized request argument supplied: {name}")


def decimal_below(param: str, low: float, value: float) -> APIError:
    return APIError(
        400,
        f"Invalid '{param}': decimal below minimum value. Expected a value >= {low:g}, but got "
        f"{value:g} instead.",
        param=param,
        code="decimal_below_min_value",
    )


def decimal_above(param: str, high: float, value: float) -> APIError:
    return APIError(
        400,
        f"Invalid '{param}': decimal above maximum value. Expected a value <= {high:g}, but got "
        f"{value:g} instead.",
        param=param,
        code="decimal_above_max_value",
    )


def logit_bias_range(token: str) -> APIError:
    return invalid_value(
        "logit_bias",
        f"Invalid 'logit_bias': the bias for token {token} must be a number between -100 and 100.",
    )


def stream_options_without_stream() -> APIError:
    return invalid_value(
        "stream_options",
        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
    )


def tool_choice_without_tools() -> APIError:
    return invalid_value(
        "tool_choice",
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
        "specified.",
    )


def no_such_function(param: str, name: str, listed_in: str) -> APIError:
    return invalid_value(
        param,
        f"Invalid value for '{param}': no function named '{name}' was specified in the "
        f"'{listed_in}' parameter.",
    )


def bad_tool_choice(param: str) -> APIError:
    return invalid_value(
        param,
        f"Invalid value for '{param}': expected 'none', 'auto', 'required' or an object naming "
        "a function.",
    )


def response_format_type(kind: object) -> APIError:
    return invalid_value(
        "response_format.type",
        f"Invalid value: '{kind}'. Supported values are: 'json_object', 'json_schema', and 'text'.",
    )


def invalid_json_schema(name: str, where: str, problem: str) -> APIError:
    return APIError(
        400,
        f"Invalid schema for response_format '{name}': In context={where}, {problem}",
        param="response_format",
        code="invalid_json_schema",
    )


def top_logprobs_without_logprobs() -> APIError:
    return invalid_value(
        "top_logprobs",
        "Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' "
        "is used.",
    )


def best_of_below_n() -> APIError:
    return invalid_value("best_of", "best_of must be greater than or equal to n.")


# -- fine-tuning methods --------------------------------------------------------------------------
def reasoning_effort_value(param: str, value: object) -> APIError:
    return invalid_value(
        param,
        f"Invalid value for '{param}': {value!r}. Supported values are: 'default', 'low', "
        "'medium', and 'high'.",
    )


def hyperparameter_range(param: str, low: float, high: float | None, value: float) -> APIError:
    bound = f"greater than {low:g}" + (f" and at most {high:g}" if high is not None else "")
    return invalid_value(
        param, f"Invalid '{param}': expected a value {bound}, but got {value} instead."
    )


# -- checkpoint permissions -----------------------------------------------------------------------
def admin_key_required() -> APIError:
    return APIError(
        403,
        "You have insufficient permissions for this operation. Checkpoint permissions need an "
        "admin API key (sk-admin-...), made by an organization owner.",
        code="insufficient_permissions",
    )


def checkpoint_not_found(name: str) -> APIError:
    return APIError(
        404,
        f"Checkpoint {name} not found.",
        param="fine_tuned_model_checkpoint",
        code="model_not_found",
    )


def bad_project_id(index: int, project: str) -> APIError:
    return invalid_value(
        f"project_ids[{index}]",
        f"Invalid project ID '{project}': project IDs start with 'proj_'.",
    )


def already_shared(index: int, name: str, project: str) -> APIError:
    return invalid_value(
        f"project_ids[{index}]", f"Checkpoint {name} is already shared with project {project}."
    )


def permission_not_found(permission_id: str, name: str) -> APIError:
    return APIError(
        404,
        f"No permission found with ID {permission_id} for checkpoint {name}.",
        param="permission_id",
        code="not_found",
    )


def empty_array(param: str) -> APIError:
    return APIError(
        400,
        f"Invalid '{param}': empty array. Expected an array with minimum length 1, but got an "
        "empty array instead.",
        param=param,
        code="empty_array",
    )


def permission_order(value: str) -> APIError:
    return invalid_value(
        "order", f"Invalid value for 'order': '{value}'. Expected 'ascending' or 'descending'."
    )
