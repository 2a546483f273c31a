using System;
using System.Collections.Generic;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Dsl.Cli.Attack;

/// <summary>How much of the attack to run.</summary>
/// <param name="Seed">The seed of the good handshake, of every case's random bytes, and of the sample.</param>
/// <param name="Sample">At most this many cases of the mutation, order and bytes classes (a seeded sample); all of them when null.</param>
/// <param name="Case">Only this case (an id a report printed).</param>
internal sealed record AttackSettings(int Seed = 1, int? Sample = null, string? Case = null)
{
    /// <summary>How many candidates the misbehaving peer tries per check before it gives up on it.</summary>
    public int CandidatesPerCheck { get; init; } = 1000;

    /// <summary>Inputs of the good handshake, by <c>ROLE.NAME</c> (the others made up).</summary>
    public IReadOnlyDictionary<string, string> Inputs { get; init; } = new Dictionary<string, string>();

    /// <summary>Whether every case is reported as it ends.</summary>
    public bool Each { get; init; }
}

/// <summary>Runs an <see cref="Adversary"/>'s cases: the misbehaving peer per check first (the coverage), then the other classes.</summary>
internal static class Campaign
{
    public static async Task<AttackReport> RunAsync(Adversary adversary, AttackSettings settings, Action<CaseResult> progress, CancellationToken cancellationToken)
    {
        var checks = adversary.Checks();
        var results = new List<CaseResult>();
        var exercised = new List<SpecCheck>();
        var unreached = new Dictionary<SpecCheck, string>();
        async Task<CaseResult> Run(AttackCase attack)
        {
            var result = await adversary.RunAsync(attack, cancellationToken).ConfigureAwait(false);
            results.Add(result);
            progress(result);
            return result;
        }

        // A case that made a role fail with a code, the first found: what a check that counts failures is reached after.
        var failing = new Dictionary<(string Victim, string Code), AttackCase>();
        async Task CheckPass(IEnumerable<SpecCheck> list, Func<AttackCase, CaseResult, Task>? each = null)
        {
            foreach (var check in list)
            {
                var seen = new Dictionary<string, int>(StringComparer.Ordinal);
                var hit = false;
                foreach (var candidate in adversary.CheckCandidates(check, failing).Take(settings.CandidatesPerCheck))
                {
                    var result = each is null ? await Run(candidate).ConfigureAwait(false) : await adversary.RunAsync(candidate, cancellationToken).ConfigureAwait(false);
                    if (each is not null) await each(candidate, result).ConfigureAwait(false);
                    if (result.VictimCode is { } code && !result.NotRun && result.Violations.Count == 0) failing.TryAdd((candidate.Victim, code), candidate);
                    if (result.HitTarget)
                    {
                        hit = true;
                        break;
                    }
                    var key = Seen(result);
                    seen[key] = seen.TryGetValue(key, out var count) ? count + 1 : 1;
                }
                if (hit)
                {
                    exercised.Add(check);
                    unreached.Remove(check);
                }
                else unreached[check] = Why(seen);
            }
        }

        if (settings.Case is { } id)
        {
            AttackCase? Find() => checks.SelectMany(c => adversary.CheckCandidates(c, failing).Take(settings.CandidatesPerCheck)).Concat(adversary.Cases()).FirstOrDefault(c => c.Id == id);
            var found = Find();
            if (found is null)
            {
                // A case made of another (failures before a check) needs the failures the checks' search finds first.
                await CheckPass(checks, (_, _) => Task.CompletedTask).ConfigureAwait(false);
                exercised.Clear();
                unreached.Clear();
                found = Find();
            }
            if (found is null) throw new ArgumentException($"no case '{id}' for seed {settings.Seed}");
            var result = await Run(found).ConfigureAwait(false);
            if (found.Target is { } target)
            {
                if (result.HitTarget) exercised.Add(target);
                else unreached[target] = Why(new Dictionary<string, int> { [Seen(result)] = 1 });
            }
            return new AttackReport(results, checks, exercised, unreached);
        }

        await CheckPass(checks).ConfigureAwait(false);
        // Once more for the checks not reached, with the failures found by then.
        if (unreached.Count > 0) await CheckPass(checks.Where(unreached.ContainsKey).ToList()).ConfigureAwait(false);

        var cases = adversary.Cases().ToList();
        foreach (var attack in Sample(cases, settings))
            await Run(attack).ConfigureAwait(false);
        return new AttackReport(results, checks, exercised, unreached) { Available = cases.Count };
    }

    private static string Seen(CaseResult result)
        => result.VictimCode is null ? $"{result.Case.Victim} succeeded" : $"{result.VictimCode}{(result.VictimDetail is { } detail && detail.StartsWith("Check failed: ", StringComparison.Ordinal) ? $" ({detail["Check failed: ".Length..]})" : "")}";

    /// <summary>Why no candidate reached a check: what the candidates met instead, the most frequent first.</summary>
    private static string Why(Dictionary<string, int> seen)
        => seen.Count == 0
            ? "no candidate to try"
            : "every candidate met something else first: " + string.Join("; ", seen.OrderByDescending(s => s.Value).ThenBy(s => s.Key, StringComparer.Ordinal).Take(4).Select(s => $"{s.Key} x{s.Value}"));

    /// <summary>
    /// All the cases, or a seeded sample of them: an equal share for each class (what one class leaves over goes to the
    /// others), chosen by a hash of the seed and the case id so that the same seed samples the same cases.
    /// </summary>
    private static IEnumerable<AttackCase> Sample(List<AttackCase> cases, AttackSettings settings)
    {
        if (settings.Sample is not { } total || total >= cases.Count) return cases;
        var byClass = cases.GroupBy(c => c.Class).OrderBy(g => g.Count()).ToList();
        var chosen = new List<AttackCase>();
        var left = total;
        for (var i = 0; i < byClass.Count; i++)
        {
            var share = left / (byClass.Count - i);
            var picked = byClass[i].OrderBy(c => Rank(settings.Seed, c.Id)).Take(share).ToList();
            chosen.AddRange(picked);
            left -= picked.Count;
        }
        var order = cases.Select((c, i) => (c.Id, i)).ToDictionary(p => p.Id, p => p.i, StringComparer.Ordinal);
        return chosen.OrderBy(c => order[c.Id]);
    }

    private static ulong Rank(int seed, string id)
        => BitConverter.ToUInt64(SHA256.HashData(Encoding.UTF8.GetBytes(seed.ToString(System.Globalization.CultureInfo.InvariantCulture) + " " + id)));
}
