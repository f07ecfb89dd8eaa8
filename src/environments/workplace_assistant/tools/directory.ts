/** company_directory_find_email_address (upstream `company_directory.py`, class CompanyDirectoryTool). */
import { containsMatcher, lower } from "../py.ts";
import type { Kwargs, ToolImpl } from "./common.ts";

export const directoryTools: Record<string, ToolImpl> = {
  company_directory_find_email_address: {
    cls: "CompanyDirectoryTool",
    method: "find_email_address",
    params: ["name"],
    run(sb, { name = "" }: Kwargs) {
      if (name === "") return "Name not provided.";
      const matches = containsMatcher(lower(name));
      return sb.directory.filter((e) => matches(e) === true);
    },
  },
};
