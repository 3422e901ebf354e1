import { Code, codeName, type CodeNumber } from "../core/errors.js";

/** An HTTP error with a ZooKeeper-style body: { err, code, message }. */
export function zkErrorResponse(status: number, err: CodeNumber, message: string): Response {
  return Response.json({ err, code: codeName(err), message }, { status });
}

export const notFound = () => zkErrorResponse(404, Code.BADARGUMENTS, "no such route; see /v1/openapi.json and docs/http.md");
