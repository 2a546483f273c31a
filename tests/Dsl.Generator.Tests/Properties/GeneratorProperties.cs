using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using CsCheck;
using Xunit;
using Xunit.Abstractions;

namespace Dsl.Generator.Tests.Properties;

/// <summary>
/// The generator never emits C# that does not compile: every spec drawn from <see cref="SpecGrammar"/> either
/// reports at least one diagnostic (never DSL999, never an exception), or its generated code compiles against
/// the runtime with no error and no warning (nullable enabled, XML docs diagnosed).
/// <para>
/// 2,000 specs a run by default, 20 to a generator run and a compilation: about 70 s on the 2-core machine
/// (about 35 ms a spec, nearly all of it the C# compiler binding the generated code). The long run, and a
/// replay of a failure:
/// <code>
/// DSL_PROPERTY_ITERATIONS=100000 dotnet test tests/Dsl.Generator.Tests --filter FullyQualifiedName~GeneratorProperties
/// DSL_PROPERTY_SEED=&lt;seed printed by the failure&gt; dotnet test tests/Dsl.Generator.Tests --filter FullyQualifiedName~GeneratorProperties
/// </code>
/// DSL_PROPERTY_SURVEY=1 runs every iteration without stopping at a failure and reports each failure class
/// (by compiler diagnostic id) with its smallest spec: for triage, not for CI.
/// A failure is shrunk by CsCheck; each distinct cause found becomes a file in <c>Properties/Regressions</c>,
/// which <see cref="Regression_specs_either_report_a_diagnostic_or_compile_cleanly"/> checks on every run.
/// </para>
/// </summary>
public sealed class GeneratorProperties(ITestOutputHelper output)
{
    /// <summary>Specs per generator run and compilation: the compiler's fixed cost is shared by the batch.</summary>
    private const int BatchSize = 20;

    [Fact]
    public void Generated_specs_either_report_a_diagnostic_or_compile_without_errors_or_warnings()
    {
        var iterations = int.TryParse(Environment.GetEnvironmentVariable("DSL_PROPERTY_ITERATIONS"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 2000;
        var seed = Environment.GetEnvironmentVariable("DSL_PROPERTY_SEED") is { Length: > 0 } s ? s : null;
        // Survey mode (triage only): run every iteration and report every failure class instead of stopping at the first.
        var survey = Environment.GetEnvironmentVariable("DSL_PROPERTY_SURVEY") == "1";
        var tally = new Tally();
        var clock = Stopwatch.StartNew();
        try
        {
            SpecGrammar.Spec.Array[BatchSize].Sample(
                batch =>
                {
                    var verdicts = CompileCheck.Run(batch.Select(spec => (spec.Yaml, spec.EffectiveNamespace)).ToList());
                    tally.Add(verdicts, batch.Select(spec => spec.Invalid).ToList());
                    var broken = verdicts.Where(v => v.Verdict == Verdict.Broken).ToList();
                    if (broken.Count > 0 && !survey) throw new PropertyFailure(string.Join("\n", broken.Select(b => b.Describe())));
                },
                seed: seed,
                // CsCheck may run a batch or two fewer than asked across its threads: ask for enough.
                iter: (iterations + BatchSize - 1) / BatchSize + Environment.ProcessorCount,
                print: batch => $"a batch of {batch.Length} specs; its broken ones follow");
        }
        catch (Exception e)
        {
            output.WriteLine(tally.Report(clock.Elapsed));
            var replay = Regex.Match(e.Message, "seed[^\"]*\"([^\"]+)\"") is { Success: true } m ? m.Groups[1].Value : "(see above)";
            throw new PropertyFailure($"Replay with DSL_PROPERTY_SEED={replay}\n\n{Shrink()}\n\nThe failing batch: {e.Message}\n{e.InnerException?.Message}", e);
        }
        output.WriteLine(tally.Report(clock.Elapsed));
        Assert.False(survey && tally.Broken > 0, "Survey mode: specs broke the property; see the failure classes above.");
    }

    /// <summary>
    /// A batch that fails has had few iterations to shrink in; this samples single specs (DSL_PROPERTY_SHRINK_ITERATIONS,
    /// default 400) so that CsCheck can shrink a failure to a small spec.
    /// </summary>
    private static string Shrink()
    {
        var iterations = int.TryParse(Environment.GetEnvironmentVariable("DSL_PROPERTY_SHRINK_ITERATIONS"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 400;
        try
        {
            SpecGrammar.Spec.Sample(
                spec =>
                {
                    var verdict = CompileCheck.Run(new[] { (spec.Yaml, spec.EffectiveNamespace) })[0];
                    if (verdict.Verdict == Verdict.Broken) throw new PropertyFailure(verdict.Describe());
                },
                iter: iterations,
                print: spec => "the spec below");
            return $"Shrinking: no single spec of {iterations} broke the property.";
        }
        catch (Exception e)
        {
            return $"The smallest failing spec of {iterations} single specs (CsCheck_Seed replays that sample): {e.Message}\n{e.InnerException?.Message}";
        }
    }

    public static IEnumerable<object[]> RegressionFiles()
        => Directory.GetFiles(RegressionFolder, "*.yaml").Select(Path.GetFileName).OrderBy(f => f, StringComparer.Ordinal).Select(f => new object[] { f! });

    private static string RegressionFolder => Path.Combine(GeneratorHarness.RepoRoot(), "tests", "Dsl.Generator.Tests", "Properties", "Regressions");

    /// <summary>The same property on the shrunk failures the property has found, one spec per file.</summary>
    [Theory]
    [MemberData(nameof(RegressionFiles))]
    public void Regression_specs_either_report_a_diagnostic_or_compile_cleanly(string file)
    {
        var yaml = File.ReadAllText(Path.Combine(RegressionFolder, file));
        var verdict = CompileCheck.Run(new[] { (yaml, "") })[0];
        output.WriteLine($"{file}: {verdict.Verdict} {string.Join(", ", verdict.DiagnosticIds)}");
        Assert.True(verdict.Verdict != Verdict.Broken, verdict.Describe());
    }

    /// <summary>A broken spec, described with what broke.</summary>
    private sealed class PropertyFailure(string message, Exception? inner = null) : Exception(message, inner);

    /// <summary>Counts of verdicts, diagnostic ids and failure classes (with the smallest spec of each), across threads.</summary>
    private sealed class Tally
    {
        private int _valid, _diagnosed, _broken, _drawnInvalid;
        private readonly ConcurrentDictionary<string, (int Count, string Smallest)> _unexpected = new();

        public int Broken => _broken;
        private readonly ConcurrentDictionary<string, int> _ids = new();
        private readonly ConcurrentDictionary<string, (int Count, string Smallest)> _failures = new();

        public void Add(IReadOnlyList<SpecVerdict> verdicts, IReadOnlyList<bool> invalid)
        {
            for (var i = 0; i < verdicts.Count; i++)
            {
                var v = verdicts[i];
                if (invalid[i]) Interlocked.Increment(ref _drawnInvalid);
                else if (v.Verdict == Verdict.Diagnosed)
                {
                    // Drawn valid but diagnosed: the grammar is looser than the language, or the generator stricter than its docs.
                    foreach (var id in v.DiagnosticIds)
                    {
                        var text = v.Yaml + string.Join("\n", v.Reported);
                        _unexpected.AddOrUpdate(id, (1, text), (_, old) => (old.Count + 1, text.Length < old.Smallest.Length ? text : old.Smallest));
                    }
                }
                switch (v.Verdict)
                {
                    case Verdict.Valid: Interlocked.Increment(ref _valid); break;
                    case Verdict.Diagnosed: Interlocked.Increment(ref _diagnosed); break;
                    default:
                        Interlocked.Increment(ref _broken);
                        var description = v.Describe();
                        foreach (var cls in v.FailureClasses)
                            _failures.AddOrUpdate(cls, (1, description),
                                (_, old) => (old.Count + 1, description.Length < old.Smallest.Length ? description : old.Smallest));
                        break;
                }
                foreach (var id in v.DiagnosticIds) _ids.AddOrUpdate(id, 1, (_, c) => c + 1);
            }
        }

        public string Report(TimeSpan elapsed)
        {
            var total = _valid + _diagnosed + _broken;
            string Share(int k) => total == 0 ? "0" : (100.0 * k / total).ToString("0.0", CultureInfo.InvariantCulture) + "%";
            var b = new StringBuilder()
                .AppendLine($"{total} specs in {elapsed.TotalSeconds:0.0} s: {_valid} valid and compiled clean ({Share(_valid)}), "
                            + $"{_diagnosed} with diagnostics ({Share(_diagnosed)}), {_broken} broke the property ({Share(_broken)})")
                .AppendLine($"{_drawnInvalid} specs were drawn invalid on purpose; {total - _valid - _diagnosed} had no diagnostic but did not compile clean")
                .AppendLine("specs reporting each diagnostic: " + string.Join(", ", _ids.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value}")))
                .AppendLine("diagnostics on specs drawn valid: " + string.Join(", ", _unexpected.OrderByDescending(kv => kv.Value.Count).Select(kv => $"{kv.Key} {kv.Value.Count}")));
            if (Environment.GetEnvironmentVariable("DSL_PROPERTY_SURVEY") == "1")
                foreach (var (id, (count, smallest)) in _unexpected.OrderByDescending(kv => kv.Value.Count))
                    b.AppendLine($"drawn valid but reported {id}: {count} specs; smallest:").AppendLine(smallest);
            foreach (var (cls, (count, smallest)) in _failures.OrderByDescending(kv => kv.Value.Count))
                b.AppendLine($"failure class {cls}: {count} specs; smallest:").AppendLine(smallest);
            return b.ToString();
        }
    }
}
