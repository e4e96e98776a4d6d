// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Responses of our own, in the shape the client's SDK parses: OpenAI's
 * {"error":{"message","type","param","code"}}, or Anthropic's
 * {"type":"error","error":{"type","message"}} on Anthropic routes.
 */
#include <stdio.h>
#include <cjson/cJSON.h>
#include "gw/gw.h"

const char *http_reason(unsigned int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* Anthropic's error types by status */
static const char *anthropic_type(unsigned int status)
{
	switch (status) {
	case 400: case 405: case 411: case 414: case 417: case 431: case 501: case 505:
		return "invalid_request_error";
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 413: return "request_too_large";
	case 429: return "rate_limit_error";
	case 503: case 529: return "overloaded_error";
	default: return "api_error";
	}
}

void api_error(struct buf *out, enum api_kind api, unsigned int status, const char *type,
	       const char *code, const char *message, const char *request_id, bool keep_alive,
	       unsigned int retry_after, const char *extra)
{
	cJSON *root = cJSON_CreateObject(), *err = cJSON_CreateObject();
	char *body = NULL;
	size_t max = 64 * 1024;

	if (api == API_ANTHROPIC) {
		cJSON_AddStringToObject(root, "type", "error");
		cJSON_AddStringToObject(err, "type", anthropic_type(status));
		cJSON_AddStringToObject(err, "message", message);
	} else {
		cJSON_AddStringToObject(err, "message", message);
		cJSON_AddStringToObject(err, "type", type);
		cJSON_AddNullToObject(err, "param");
		if (code)
			cJSON_AddStringToObject(err, "code", code);
		else
			cJSON_AddNullToObject(err, "code");
	}
	cJSON_AddItemToObject(root, "error", err);
	body = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);

	buf_printf(out, max, "HTTP/1.1 %u %s\r\ncontent-type: application/json\r\n"
		   "content-length: %zu\r\ncache-control: no-store\r\n", status,
		   http_reason(status), body ? strlen(body) : 2);
	if (request_id && request_id[0])
		buf_printf(out, max, "x-request-id: %s\r\n", request_id);
	if (retry_after)
		buf_printf(out, max, "retry-after: %u\r\n", retry_after);
	if (status == 401)
		buf_printf(out, max, "www-authenticate: Bearer realm=\"sluice\"\r\n");
	if (extra && extra[0])
		buf_printf(out, max, "%s", extra);
	buf_printf(out, max, "connection: %s\r\n\r\n%s", keep_alive ? "keep-alive" : "close",
		   body ? body : "{}");
	cJSON_free(body);
}
