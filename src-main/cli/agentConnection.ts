import { useOrStartAgent, type AgentAccess } from '../agent/agentAccess.js';

/** Runs `work` with the running agent, or, when none runs, an agent in this process for just this command. */
export async function withAgent<T>(work: (agent: AgentAccess) => Promise<T>): Promise<T> {
  const agent = await useOrStartAgent('quiet');
  try {
    return await work(agent);
  } finally {
    await agent.close();
  }
}
