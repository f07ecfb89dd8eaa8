/** The five project management tools (upstream `project_management.py`, class ProjectManagementTool). */
import { checkMask, containsMatcher, lower, PyError, pyType, truthy } from "../py.ts";
import type { Sandbox } from "../sandbox.ts";
import type { Row } from "../table.ts";
import { cell, nextId, type Kwargs, type ToolImpl } from "./common.ts";

const cls = "ProjectManagementTool";
export const LISTS = ["Backlog", "In Progress", "In Review", "Completed"];
export const BOARDS = ["Back end", "Front end", "Design"];
const EMAIL = /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$/;

const assignees = (sb: Sandbox) => new Set(sb.tasks.column("assigned_to_email").map((v) => (typeof v === "string" ? v.toLowerCase() : v)));

export const projectManagementTools: Record<string, ToolImpl> = {
  project_management_get_task_information_by_id: {
    cls,
    method: "get_task_information_by_id",
    params: ["task_id", "field"],
    run(sb, { task_id, field }: Kwargs) {
      if (!truthy(task_id)) return "Task ID not provided.";
      if (!truthy(field)) return "Field not provided.";
      const row = sb.tasks.rows.find((r) => r.cells.task_id === task_id);
      if (!row) return "Task not found.";
      const task = sb.tasks.records([row])[0]!;
      return typeof field === "string" && field in task ? { [field]: task[field] } : "Field not found.";
    },
  },
  project_management_search_tasks: {
    cls,
    method: "search_tasks",
    params: ["task_name", "assigned_to_email", "list_name", "due_date", "board"],
    run(sb, { task_name, assigned_to_email, list_name, due_date, board }: Kwargs) {
      if (![task_name, assigned_to_email, list_name, due_date, board].some(truthy)) return "No search parameters provided.";
      if (truthy(assigned_to_email)) {
        if (typeof assigned_to_email !== "string") throw new PyError(`expected string or bytes-like object, got '${pyType(assigned_to_email)}'`);
        if (!EMAIL.test(assigned_to_email)) return "Invalid email format for assigned_to_email.";
      }
      let rows: Row[] = sb.tasks.rows;
      const contains = (col: string, pattern: unknown) => {
        const m = containsMatcher(pattern);
        const mask = checkMask(rows.map((r) => m(r.cells[col])));
        rows = rows.filter((_, k) => mask[k]);
      };
      if (truthy(task_name)) contains("task_name", task_name);
      if (truthy(assigned_to_email)) {
        const want = lower(assigned_to_email);
        rows = rows.filter((r) => typeof r.cells.assigned_to_email === "string" && r.cells.assigned_to_email.toLowerCase() === want);
      }
      if (truthy(list_name)) contains("list_name", list_name);
      if (truthy(due_date)) contains("due_date", due_date);
      if (truthy(board)) contains("board", board);
      return sb.tasks.records(rows);
    },
  },
  project_management_create_task: {
    cls,
    method: "create_task",
    params: ["task_name", "assigned_to_email", "list_name", "due_date", "board"],
    run(sb, { task_name, assigned_to_email, list_name, due_date, board }: Kwargs) {
      if (![task_name, assigned_to_email, list_name, due_date, board].every(truthy)) return "Missing task details.";
      const email = lower(assigned_to_email);
      if (!assignees(sb).has(email)) return "Assignee email not valid. Please choose from the list of team members.";
      if (typeof list_name !== "string" || !LISTS.includes(list_name)) return "List not valid. Please choose from: 'Backlog', 'In Progress', 'In Review', 'Completed'.";
      if (typeof board !== "string" || !BOARDS.includes(board)) return "Board not valid. Please choose from: 'Back end', 'Front end', 'Design'.";
      const id = nextId(sb.tasks.maxString("task_id"), true);
      sb.tasks.append([{ task_id: id, task_name: cell(task_name), assigned_to_email: email, list_name, due_date: cell(due_date), board }], true);
      return id;
    },
  },
  project_management_delete_task: {
    cls,
    method: "delete_task",
    params: ["task_id"],
    run(sb, { task_id }: Kwargs) {
      if (!truthy(task_id)) return "Task ID not provided.";
      if (!sb.tasks.rows.some((r) => r.cells.task_id === task_id)) return "Task not found.";
      sb.tasks.filter((r) => r.cells.task_id !== task_id);
      return "Task deleted successfully.";
    },
  },
  project_management_update_task: {
    cls,
    method: "update_task",
    params: ["task_id", "field", "new_value"],
    run(sb, { task_id, field, new_value }: Kwargs) {
      if (!truthy(task_id) || !truthy(field) || !truthy(new_value)) return "Task ID, field, or new value not provided.";
      const value = field === "assigned_to_email" ? lower(new_value) : cell(new_value);
      if (field === "board" && !BOARDS.includes(value as string)) return "Board not valid. Please choose from: 'Back end', 'Front end', 'Design'.";
      if (field === "list_name" && !LISTS.includes(value as string)) return "List not valid. Please choose from: 'Backlog', 'In Progress', 'In Review', 'Completed'.";
      if (field === "assigned_to_email" && !assignees(sb).has(value)) return "Assignee email not valid. Please choose from the list of team members.";
      if (!sb.tasks.rows.some((r) => r.cells.task_id === task_id)) return "Task not found.";
      if (typeof field !== "string" || !sb.tasks.columns.includes(field)) return "Field not valid.";
      for (const r of sb.tasks.rows) if (r.cells.task_id === task_id) r.cells[field] = value;
      return "Task updated successfully.";
    },
  },
};
