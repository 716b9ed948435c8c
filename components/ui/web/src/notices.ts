// Transient messages shown in the page's live region (rate limits, copied
// secrets, finished actions).
import { Store } from "./store";

export interface Notice {
  id: number;
  text: string;
  tone: "info" | "warning" | "error";
}

class Notices extends Store<Notice[]> {
  private next = 1;
  show(text: string, tone: Notice["tone"] = "info", ttlMs = 0): number {
    const id = this.next++;
    this.set([...this.get(), { id, text, tone }]);
    if (ttlMs > 0) setTimeout(() => this.dismiss(id), ttlMs);
    return id;
  }
  dismiss(id: number): void {
    this.set(this.get().filter((n) => n.id !== id));
  }
}

export const notices = new Notices([]);
