/** The six email tools (upstream `workplace_assistant_tools/email.py`, class EmailTool), same answers. */
import { dateOf, lower, PyError, strIn, timestamp, truthy } from "../py.ts";
import type { Sandbox } from "../sandbox.ts";
import type { Cell } from "../table.ts";
import { cell, CURRENT_TIME, nextId, paginate, pyStr, type Kwargs, type ToolImpl } from "./common.ts";

const cls = "EmailTool";

/** The try/except of each method: any exception becomes the method's own "Error ...: <msg>" answer. */
function guarded(prefix: string, f: () => unknown): unknown {
  try {
    return f();
  } catch (e) {
    if (e instanceof PyError) return `${prefix}: ${e.message}`;
    throw e;
  }
}

function findEmail(sb: Sandbox, id: unknown): Record<string, Cell> | undefined {
  const row = sb.emails.rows.find((r) => r.cells.email_id === id);
  return row ? sb.emails.records([row])[0] : undefined;
}

function sendEmail(sb: Sandbox, recipient: unknown, subject: unknown, body: unknown): string {
  if (!truthy(recipient) || !truthy(subject) || !truthy(body)) return "Recipient, subject, or body not provided.";
  if (!strIn("@", recipient) || !strIn(".", recipient)) return "Invalid recipient email address.";
  return guarded("Error sending email", () => {
    const to = lower(recipient);
    const id = sb.emails.rows.length === 0 ? "1" : nextId(sb.emails.maxString("email_id"), false);
    sb.emails.append([{ email_id: id, "inbox/outbox": "outbox", "sender/recipient": to, subject: cell(subject), sent_datetime: CURRENT_TIME, body: cell(body) }], true);
    return "Email sent successfully.";
  }) as string;
}

export const emailTools: Record<string, ToolImpl> = {
  email_get_email_information_by_id: {
    cls,
    method: "get_email_information_by_id",
    params: ["email_id", "field"],
    run(sb, { email_id, field }: Kwargs) {
      if (!truthy(email_id)) return "Email ID not provided.";
      if (!truthy(field)) return "Field not provided.";
      return guarded("Error retrieving email information", () => {
        const email = findEmail(sb, email_id);
        if (!email) return "Email not found.";
        if (typeof field === "string" && field in email) return { [field]: email[field] };
        return `Field '${pyStr(field)}' not found. Available fields: ${Object.keys(email).join(", ")}`;
      });
    },
  },
  email_search_emails: {
    cls,
    method: "search_emails",
    params: ["query", "date_min", "date_max", "page", "page_size"],
    run(sb, { query = "", date_min, date_max, page = 1, page_size = 5 }: Kwargs) {
      return guarded("Error searching emails", () => {
        const words = lower(query).split(/\s+/).filter(Boolean);
        let emails = sb.emails.rows
          .filter((r) => {
            const combined = `${pyStr(r.cells.subject)} ${pyStr(r.cells.body)} ${pyStr(r.cells["sender/recipient"])}`.toLowerCase();
            return words.every((w) => combined.includes(w));
          })
          .map((r) => ({ r, t: timestamp(r.cells.sent_datetime) }))
          .sort((a, b) => b.t - a.t)
          .map(({ r }) => sb.emails.records([r])[0]!);
        if (truthy(date_min)) emails = emails.filter((e) => dateOf(e.sent_datetime) >= dateOf(date_min));
        if (truthy(date_max)) emails = emails.filter((e) => dateOf(e.sent_datetime) <= dateOf(date_max));
        const p = paginate(emails, page, page_size);
        if (emails.length === 0) return "No emails found.";
        return { emails: p.slice, pagination: { total_emails: emails.length, page: p.page, page_size: p.pageSize, total_pages: p.totalPages } };
      });
    },
  },
  email_send_email: {
    cls,
    method: "send_email",
    params: ["recipient", "subject", "body"],
    run: (sb, { recipient, subject, body }: Kwargs) => sendEmail(sb, recipient, subject, body),
  },
  email_delete_email: {
    cls,
    method: "delete_email",
    params: ["email_id"],
    run(sb, { email_id }: Kwargs) {
      if (!truthy(email_id)) return "Email ID not provided.";
      if (!findEmail(sb, email_id)) return "Email not found.";
      sb.emails.filter((r) => r.cells.email_id !== email_id);
      return "Email deleted successfully.";
    },
  },
  email_forward_email: {
    cls,
    method: "forward_email",
    params: ["email_id", "recipient"],
    run(sb, { email_id, recipient }: Kwargs) {
      if (!truthy(email_id) || !truthy(recipient)) return "Email ID or recipient not provided.";
      if (!strIn("@", recipient) || !strIn(".", recipient)) return "Invalid recipient email address.";
      return guarded("Error forwarding email", () => {
        const email = findEmail(sb, email_id);
        if (!email) return "Email not found.";
        const result = sendEmail(sb, lower(recipient), `FW: ${pyStr(email.subject)}`, email.body);
        return result.includes("Error") || result.includes("Invalid") ? result : "Email forwarded successfully.";
      });
    },
  },
  email_reply_email: {
    cls,
    method: "reply_email",
    params: ["email_id", "body"],
    run(sb, { email_id, body }: Kwargs) {
      if (!truthy(email_id) || !truthy(body)) return "Email ID or body not provided.";
      return guarded("Error replying to email", () => {
        const email = findEmail(sb, email_id);
        if (!email) return "Email not found.";
        const result = sendEmail(sb, email["sender/recipient"], `RE: ${pyStr(email.subject)}`, body);
        return result.includes("Error") || result.includes("Invalid") ? result : "Email replied successfully.";
      });
    },
  },
};
