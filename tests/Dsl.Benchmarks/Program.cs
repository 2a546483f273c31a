using BenchmarkDotNet.Running;

// dotnet run -c Release --project tests/Dsl.Benchmarks -- --filter '*'   (docs/benchmarks.md says what each measures)
BenchmarkSwitcher.FromAssembly(typeof(Dsl.Benchmarks.MeshStoreBenchmarks).Assembly).Run(args);
