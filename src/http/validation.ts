/** Turns zod failures from any request validator into the 422 of the one error path. */
import type { Hook } from "@hono/zod-openapi";
import type { z } from "zod";
import { type FieldIssue, validationFailed } from "../domain/errors";

export function toFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join("."),
    message: issue.message,
  }));
}

// biome-ignore lint/suspicious/noExplicitAny: the hook is shared by routes of every shape.
export const validationHook: Hook<any, any, any, any> = (result) => {
  if (!result.success) throw validationFailed(toFieldIssues(result.error as z.ZodError));
};
