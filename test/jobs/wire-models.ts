/**
 * The role-scripted loopback servers (OpenAI chat, GEMS generator) set up for job tests, closed
 * after each test. Attempt numbers count generator calls from 1, so a scripted verifier can say
 * which attempt passes.
 */
import type { ChatCall, RoleScript } from "../agent/role-scripted-servers.ts";
import { startScriptedGenerator, startScriptedMllm, verifierView } from "../agent/role-scripted-servers.ts";
import { onCleanup } from "./job-harness.ts";

export async function wireModels(script: RoleScript = {}, generatorScript?: Parameters<typeof startScriptedGenerator>[0]) {
  const mllm = await startScriptedMllm(script);
  const generator = await startScriptedGenerator(generatorScript);
  onCleanup(async () => {
    await mllm.close();
    await generator.close();
  });
  return { mllm, generator };
}

/** A verifier that passes "Is the cube red?" only from attempt `fixedAt` on, and the rest always. */
export const redFrom = (fixedAt: number) => (call: ChatCall) => {
  const { attempt, question } = verifierView(call);
  return question.includes("red") && attempt < fixedAt ? "No, the cube is green." : "Yes, it is.";
};

export const RED_CUBE = { prompt: "a red cube", skill: "none" } as const;
