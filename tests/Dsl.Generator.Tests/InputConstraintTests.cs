using System;
using System.Linq;
using System.Reflection;
using Xunit;

namespace Dsl.Generator.Tests;

/// <summary>
/// An input's constraints are the caller's contract: the generated machine refuses, when it is made, inputs that
/// break them, with an <see cref="ArgumentException"/> naming the input and the rule, and takes those that keep them.
/// </summary>
public sealed class InputConstraintTests
{
    private const string Spec = """
        protocol: inputs
        version: "1"
        roles: [a, b]
        inputs:
          a:
            nick: { type: string, pattern: "[a-z]+", max_length: 8 }
            level: { type: int, min: 1, max: 3 }
            mode: { type: string?, one_of: [fast, safe] }
        messages:
          hello: { fields: { nick: string, level: int } }
        flow:
          - a -> b: hello
            set: { nick: self.nick, level: self.level }
        """;

    private static readonly Lazy<Assembly> s_generated = new(() =>
    {
        var run = GeneratorHarness.Run(Spec);
        MiscompileTests.AssertCompilesClean(run);
        return run.Load();
    });

    private static object Make(string nick, long level, string? mode)
    {
        var assembly = s_generated.Value;
        var inputsType = assembly.GetTypes().Single(t => t.Name == "InputsAInputs");
        var inputs = Activator.CreateInstance(inputsType)!;
        inputsType.GetProperty("Nick")!.SetValue(inputs, nick);
        inputsType.GetProperty("Level")!.SetValue(inputs, level);
        inputsType.GetProperty("Mode")!.SetValue(inputs, mode);
        var machineType = assembly.GetTypes().Single(t => t.Name == "InputsA");
        try
        {
            return Activator.CreateInstance(machineType, inputs, null)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }

    [Fact]
    public void Inputs_that_keep_the_constraints_make_a_machine()
    {
        Assert.NotNull(Make("alice", 2, null));
        Assert.NotNull(Make("bob", 3, "safe"));
    }

    [Theory]
    [InlineData("Alice", 2, null, "Input 'nick' must match the pattern [a-z]+")]
    [InlineData("a1", 2, null, "Input 'nick' must match the pattern [a-z]+")]
    [InlineData("abcdefghi", 2, null, "Input 'nick' must have at most 8")]
    [InlineData("alice", 0, null, "Input 'level' must be at least 1")]
    [InlineData("alice", 4, null, "Input 'level' must be at most 3")]
    [InlineData("alice", 2, "quick", "Input 'mode' must be one of: fast, safe")]
    public void Inputs_that_break_a_constraint_are_refused_with_the_rule(string nick, long level, string? mode, string message)
    {
        var error = Assert.Throws<ArgumentException>(() => Make(nick, level, mode));
        Assert.StartsWith(message, error.Message);
    }

    [Fact]
    public void An_input_pattern_is_compiled_once_for_the_type_not_for_each_machine()
    {
        var machine = GeneratorHarness.Run(Spec).Source("A.Machine.g.cs");
        Assert.Single(machine.Split('\n'), line => line.Contains("Patterns.Create("));
        Assert.Contains("private static readonly global::System.Text.RegularExpressions.Regex s_NickPattern = ", machine);
    }
}
