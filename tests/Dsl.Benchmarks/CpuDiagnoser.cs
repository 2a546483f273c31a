using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using BenchmarkDotNet.Analysers;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Validators;

namespace Dsl.Benchmarks;

/// <summary>
/// The CPU time a benchmark's process spends per operation (every thread, managed and native: both ends of a handshake
/// run in the one process), beside BenchmarkDotNet's wall time: what a target stated in CPU (STT over UDP against STT in
/// memory) is read from. The process's CPU time and the wall clock are read when the measured iterations begin and end;
/// their quotient is how many cores the benchmark kept busy (the <c>Cores</c> column), and that times the mean wall time
/// per operation is the <c>CPU/op</c> column. The window includes the engine's collections between iterations, small
/// next to iterations of half a second.
/// </summary>
public sealed class CpuDiagnoser : IDiagnoser
{
    /// <summary>The one instance, for <c>[Config]</c> and the command line.</summary>
    public static readonly CpuDiagnoser Default = new();

    private readonly Dictionary<BenchmarkCase, (TimeSpan Cpu, long Wall)> _starts = new();
    private readonly Dictionary<BenchmarkCase, double> _cores = new();

    /// <inheritdoc />
    public IEnumerable<string> Ids => ["CPU"];

    /// <inheritdoc />
    public IEnumerable<IExporter> Exporters => [];

    /// <inheritdoc />
    public IEnumerable<IAnalyser> Analysers => [];

    /// <inheritdoc />
    public RunMode GetRunMode(BenchmarkCase benchmarkCase) => RunMode.NoOverhead;

    /// <inheritdoc />
    public void Handle(HostSignal signal, DiagnoserActionParameters parameters)
    {
        if (signal is not (HostSignal.BeforeActualRun or HostSignal.AfterActualRun)) return;
        parameters.Process.Refresh();
        var cpu = parameters.Process.TotalProcessorTime;
        var wall = Stopwatch.GetTimestamp();
        lock (_starts)
        {
            if (signal == HostSignal.BeforeActualRun)
            {
                _starts[parameters.BenchmarkCase] = (cpu, wall);
            }
            else if (_starts.TryGetValue(parameters.BenchmarkCase, out var start) && wall > start.Wall)
            {
                _cores[parameters.BenchmarkCase] = (cpu - start.Cpu).TotalSeconds / Stopwatch.GetElapsedTime(start.Wall, wall).TotalSeconds;
            }
        }
    }

    /// <inheritdoc />
    public IEnumerable<Metric> ProcessResults(DiagnoserResults results)
    {
        double cores;
        lock (_starts)
            if (!_cores.TryGetValue(results.BenchmarkCase, out cores)) yield break;
        yield return new Metric(CoresBusy.Instance, cores);
    }

    /// <inheritdoc />
    public void DisplayResults(ILogger logger)
    {
    }

    /// <inheritdoc />
    public IEnumerable<ValidationError> Validate(ValidationParameters validationParameters) => [];

    /// <summary>How many cores the measured iterations kept busy, on average.</summary>
    internal sealed class CoresBusy : IMetricDescriptor
    {
        public static readonly CoresBusy Instance = new();

        public string Id => "CoresBusy";
        public string DisplayName => "Cores";
        public string Legend => "Cores kept busy on average over the measured iterations: the process's CPU time (every thread) over the wall time";
        public string NumberFormat => "0.00";
        public UnitType UnitType => UnitType.Dimensionless;
        public string Unit => "cores";
        public bool TheGreaterTheBetter => false;
        public int PriorityInCategory => 0;
        public bool GetIsAvailable(Metric metric) => true;
    }
}

/// <summary>CPU time per operation: the mean wall time per operation times the cores the benchmark kept busy.</summary>
public sealed class CpuPerOperationColumn : IColumn
{
    public string Id => "CpuPerOperation";
    public string ColumnName => "CPU/op";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Metric;
    public int PriorityInCategory => 1;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Time;
    public string Legend => "CPU time per operation, every thread of the process: the mean wall time times the cores kept busy";

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        if (report?.ResultStatistics is not { } statistics || !report.Metrics.TryGetValue(CpuDiagnoser.CoresBusy.Instance.Id, out var cores)) return "-";
        var nanoseconds = statistics.Mean * cores.Value;
        return nanoseconds >= 1_000_000 ? $"{nanoseconds / 1_000_000:N2} ms" : nanoseconds >= 1_000 ? $"{nanoseconds / 1_000:N1} us" : $"{nanoseconds:N0} ns";
    }
}

/// <summary>Adds <see cref="CpuDiagnoser"/> to a benchmark class: <c>[Config(typeof(CpuConfig))]</c>.</summary>
public sealed class CpuConfig : BenchmarkDotNet.Configs.ManualConfig
{
    /// <summary>The configuration with the CPU column.</summary>
    public CpuConfig()
    {
        AddDiagnoser(CpuDiagnoser.Default);
        AddColumn(new CpuPerOperationColumn());
    }
}
