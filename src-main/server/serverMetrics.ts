import type { UsageLedger } from './usageLedger.js';
import type { UserDirectory } from './userFile.js';

/**
 * GET /metrics in Prometheus' text format: per user, what their repositories hold (bytes, objects,
 * repositories) and their quota; for the server, requests by method and status and failed logins.
 */
export class ServerMetrics {
  private readonly requests = new Map<string, number>();
  private failedLogins = 0;

  request(method: string, status: number): void {
    const key = `method="${method.replace(/[^A-Z]/g, '')}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  failedLogin(): void {
    this.failedLogins += 1;
  }

  async render(users: UserDirectory, usage: UsageLedger): Promise<string> {
    const lines: string[] = [];
    const family = (name: string, type: 'gauge' | 'counter', help: string) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    const all = await users.all();
    const usages = await Promise.all(all.map((user) => usage.below(user.repos.split('/'))));
    const perUser = (name: string, help: string, value: (i: number) => number | undefined) => {
      family(name, 'gauge', help);
      all.forEach((user, i) => {
        const v = value(i);
        if (v !== undefined) lines.push(`${name}{user="${user.name}"} ${v}`);
      });
    };
    perUser('hindsight_server_user_bytes', "Bytes held by the user's repositories.", (i) => usages[i]?.bytes);
    perUser('hindsight_server_user_objects', "Objects in the user's repositories.", (i) => usages[i]?.objects);
    perUser('hindsight_server_user_repositories', "The user's repositories.", (i) => usages[i]?.repositories);
    perUser('hindsight_server_user_quota_bytes', "The user's quota, where one is set.", (i) => all[i]?.quotaBytes);
    family('hindsight_server_requests_total', 'counter', 'Requests answered, by method and status.');
    for (const [labels, count] of [...this.requests].sort()) lines.push(`hindsight_server_requests_total{${labels}} ${count}`);
    family('hindsight_server_failed_logins_total', 'counter', 'Logins refused (wrong or unknown user, password or token).');
    lines.push(`hindsight_server_failed_logins_total ${this.failedLogins}`);
    return `${lines.join('\n')}\n`;
  }
}
