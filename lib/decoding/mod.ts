/**
 * Token choice shared by every model that generates one token at a time:
 * greedy, temperature, top-k, top-p, banned ids.
 *
 * @module
 */
export * from "./token_choice.ts";
