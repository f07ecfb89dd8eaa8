/** Supervised fine-tuning as a library: chats → masked examples, and the `gymrl sft` run. */
export { type Chat, chatToExamples, readChats } from "./chat-examples.ts";
export { type SftArgs, type TrainSettings, TrainSchema, checkpointDir, parseSftFile, runSft } from "./run.ts";
