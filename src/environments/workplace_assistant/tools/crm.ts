/** The four CRM tools (upstream `customer_relationship_manager.py`, class CustomerRelationshipManagerTool). */
import { checkMask, containsMatcher, lower, PyError, pyType, truthy } from "../py.ts";
import type { Row } from "../table.ts";
import { cell, nextId, paginate, type Kwargs, type ToolImpl } from "./common.ts";

const cls = "CustomerRelationshipManagerTool";
export const STATUSES = ["Qualified", "Won", "Lost", "Lead", "Proposal"];
export const PRODUCTS = ["Software", "Hardware", "Services", "Consulting", "Training"];
const FIELDS_TEXT = "'customer_name', 'assigned_to_email', 'customer_email', 'customer_phone', 'last_contact_date', 'product_interest', 'status', 'notes', 'follow_up_by'";

export const crmTools: Record<string, ToolImpl> = {
  customer_relationship_manager_search_customers: {
    cls,
    method: "search_customers",
    params: ["customer_name", "customer_email", "product_interest", "status", "assigned_to_email", "last_contact_date_min", "last_contact_date_max", "follow_up_by_min", "follow_up_by_max", "page", "page_size"],
    run(sb, kw: Kwargs) {
      const { page = 1, page_size = 5 } = kw;
      const filters = ["customer_name", "customer_email", "product_interest", "status", "assigned_to_email", "last_contact_date_min", "last_contact_date_max", "follow_up_by_min", "follow_up_by_max"];
      if (!filters.some((f) => truthy(kw[f]))) return "No search parameters provided. Please provide at least one parameter.";
      let rows: Row[] = sb.crm.rows;
      for (const col of ["customer_name", "customer_email", "product_interest", "status", "assigned_to_email"]) {
        if (!truthy(kw[col])) continue;
        const m = containsMatcher(kw[col]);
        const mask = checkMask(rows.map((r) => m(r.cells[col])));
        rows = rows.filter((_, k) => mask[k]);
      }
      // string comparisons; a missing cell compares False, a non-string bound is a TypeError
      const bound = (col: string, v: unknown, op: ">=" | "<=") => {
        if (!truthy(v)) return;
        if (typeof v !== "string") throw new PyError(`'${op}' not supported between instances of 'str' and '${pyType(v)}'`);
        rows = rows.filter((r) => {
          const c = r.cells[col];
          return typeof c === "string" && (op === ">=" ? c >= v : c <= v);
        });
      };
      bound("last_contact_date", kw.last_contact_date_min, ">=");
      bound("last_contact_date", kw.last_contact_date_max, "<=");
      bound("follow_up_by", kw.follow_up_by_min, ">=");
      bound("follow_up_by", kw.follow_up_by_max, "<=");
      const records = sb.crm.records(rows);
      const p = paginate(records, page, page_size);
      if (records.length === 0) return "No customers found.";
      return { customers: p.slice, pagination: { total_customers: records.length, page: p.page, page_size: p.pageSize, total_pages: p.totalPages } };
    },
  },
  customer_relationship_manager_update_customer: {
    cls,
    method: "update_customer",
    params: ["customer_id", "field", "new_value"],
    run(sb, { customer_id, field, new_value }: Kwargs) {
      if (!truthy(customer_id) || !truthy(field) || !truthy(new_value)) return "Customer ID, field, or new value not provided.";
      if (field === "status" && !STATUSES.includes(new_value as string)) return "Status not valid. Please choose from: 'Qualified', 'Won', 'Lost', 'Lead', 'Proposal'";
      if (field === "product_interest" && !PRODUCTS.includes(new_value as string)) {
        return "Product interest not valid. Please choose from: 'Software', 'Hardware', 'Services', 'Consulting', 'Training'";
      }
      const value = field === "customer_email" || field === "assigned_to_email" ? lower(new_value) : cell(new_value);
      if (!sb.crm.rows.some((r) => r.cells.customer_id === customer_id)) return "Customer not found.";
      if (typeof field !== "string" || !sb.crm.columns.includes(field)) return `Field not valid. Please choose from: ${FIELDS_TEXT}`;
      for (const r of sb.crm.rows) if (r.cells.customer_id === customer_id) r.cells[field] = value;
      return "Customer updated successfully.";
    },
  },
  customer_relationship_manager_add_customer: {
    cls,
    method: "add_customer",
    params: ["customer_name", "assigned_to_email", "status", "customer_email", "customer_phone", "last_contact_date", "product_interest", "notes", "follow_up_by"],
    run(sb, kw: Kwargs) {
      const { customer_name, assigned_to_email, status, customer_email, customer_phone, last_contact_date, product_interest, follow_up_by } = kw;
      const notes = "notes" in kw ? kw.notes : "";
      if (![customer_name, assigned_to_email, status].every(truthy)) return "Please provide all required fields: customer_name, assigned_to_email, status.";
      const assigned = lower(assigned_to_email);
      const email = truthy(customer_email) ? lower(customer_email) : cell(customer_email);
      const id = nextId(sb.crm.maxString("customer_id"), true);
      sb.crm.append(
        [
          {
            customer_id: id,
            customer_name: cell(customer_name),
            customer_email: email,
            customer_phone: cell(customer_phone),
            last_contact_date: cell(last_contact_date),
            product_interest: cell(product_interest),
            status: cell(status),
            assigned_to_email: assigned,
            notes: cell(notes),
            follow_up_by: cell(follow_up_by),
          },
        ],
        true,
      );
      return id;
    },
  },
  customer_relationship_manager_delete_customer: {
    cls,
    method: "delete_customer",
    params: ["customer_id"],
    run(sb, { customer_id }: Kwargs) {
      if (!truthy(customer_id)) return "Customer ID not provided.";
      if (!sb.crm.rows.some((r) => r.cells.customer_id === customer_id)) return "Customer not found.";
      sb.crm.filter((r) => r.cells.customer_id !== customer_id);
      return "Customer deleted successfully.";
    },
  },
};
