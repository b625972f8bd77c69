using System.Reflection;
using System.Runtime.Intrinsics;
using Xent.Distillation;
using Xent.Fused;
using Xent.Kernels;
using Xent.LinearAlgebra;
using Xent.Tests.Distillation;

namespace Xent.Tests.Core;

/// <summary>
/// The per-thread runners the loss kernels keep for the thread's next call hold nothing of the call that last ran them:
/// after real calls, every field of the thread's spare is what a new runner's is (found by reflection, into structs and
/// the runner's own arrays, which must be zeroed), so a field added to a runner and left out of its Clear keeps a
/// caller's array or address alive, or carries a number into the next call, and fails here. The few fields that are a
/// runner's own reusable scratch are listed, each with why; none of them may hold a reference or an address.
/// </summary>
public unsafe class SpareRunnerTests
{
    private const BindingFlags InstanceFields = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
    private const BindingFlags StaticFields = BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;

    // Before the tables below, which name them (static initializers run in order).
    private static Type FusedRunner { get; } = typeof(FusedKernel).GetNestedType("Runner`2", BindingFlags.NonPublic)!;

    private static Type ParallelRunner { get; } = typeof(ParallelWork).GetNestedType("Runner`1", BindingFlags.NonPublic)!;

    // Fields a spare may keep as they are, and why.
    private static readonly Dictionary<string, string> Kept = new()
    {
        [Key(typeof(CrossEntropyKernel), "splitStatistics")] = "split rows' scratch of the thread, cleared by the split call that takes it",
        [Key(typeof(CrossEntropyKernel), "splitTargetLogits")] = "split rows' scratch of the thread, cleared by the split call that takes it",
        [Key(typeof(CrossEntropyKernel), "splitFinished")] = "split rows' scratch of the thread, cleared by the split call that takes it",
        [Key(typeof(CrossEntropyKernel), "splitDominants")] = "split rows' scratch of the thread, cleared by the split call that takes it",
        [Key(FusedRunner, "laneRunners")] = "the thread's token lanes for its next call: each is checked as a spare itself",
        [Key(ParallelRunner, "<Body>k__BackingField")] = "the runner's own delegate, bound to itself once",
    };

    // Every [ThreadStatic] field of the library that keeps an object for the thread's next call, and what it holds: a
    // new one must be a case here (a runner) or say why it holds nothing of a call.
    private static readonly Dictionary<string, string> PerThreadFields = new()
    {
        [Key(typeof(CrossEntropyKernel), "spareKernel")] = "runner",
        [Key(FusedRunner, "spareRunner")] = "runner",
        [Key(typeof(DistillationKernel), "spareKernel")] = "runner",
        [Key(ParallelRunner, "spare")] = "runner",
        [Key(typeof(CrossEntropyKernel), "spareTerms")] = "numbers only, cleared by the call that rents them",
        [Key(typeof(Workspace), "current")] = "the thread's packing buffers: native memory of the library's own",
        [Key(typeof(WorkerPool), "isWorker")] = "a flag",
    };

    // The fused kernel's runner at each vector width (Simd.Width picks one per call).
    private static Type[] FusedRunners { get; } =
    [
        FusedRunner.MakeGenericType(typeof(Vector512Ops), typeof(Vector512<float>)),
        FusedRunner.MakeGenericType(typeof(Vector256Ops), typeof(Vector256<float>)),
        FusedRunner.MakeGenericType(typeof(Vector128Ops), typeof(Vector128<float>)),
        FusedRunner.MakeGenericType(typeof(ScalarOps), typeof(float)),
    ];

    [Fact]
    public void EveryPerThreadObjectIsCovered()
    {
        var found = typeof(CrossEntropy).Assembly.GetTypes()
            .SelectMany(t => t.GetFields(StaticFields | BindingFlags.DeclaredOnly))
            .Where(f => f.IsDefined(typeof(ThreadStaticAttribute)))
            .Select(f => Key(f.DeclaringType!, f.Name))
            .Order()
            .ToArray();
        Assert.Equal(PerThreadFields.Keys.Order(), found);
    }

    [Fact]
    public void CrossEntropyKernelKeepsNothing()
    {
        const int Rows = 6, Classes = 300;
        var logits = AllocationCalls.Fill(Rows * Classes, 1);
        int[] targets = [5, -100, 17, 299, 0, 42];
        var gradient = new float[logits.Length];
        var losses = new float[Rows];
        var weights = AllocationCalls.Fill(Classes, 2).Select(w => w + 1f).ToArray();
        var full = new CrossEntropyOptions { LabelSmoothing = 0.1f, ZLoss = 1e-4f, ClassWeights = weights, SoftCap = 30f, MaxDegreeOfParallelism = 1 };
        AfterCall(() => CrossEntropy.LossAndGradient(logits, targets, gradient, full), typeof(CrossEntropyKernel));
        AfterCall(() => CrossEntropy.LossPerRow(logits, targets, losses, full with { Reduction = Reduction.None }), typeof(CrossEntropyKernel));
        AfterCall(() => CrossEntropy.LossAndGradient(logits, AllocationCalls.Softmax(logits, Classes), Classes, gradient), typeof(CrossEntropyKernel));
        AfterCall(() => AllocationCalls.PointerLossAndGradient(logits, targets, gradient, CrossEntropyOptions.Default), typeof(CrossEntropyKernel));

        // Few long rows, split into block ranges at 2 threads or more: the split rows' arrays.
        var longRows = AllocationCalls.Fill(2 * 65536, 3);
        AfterCall(() => CrossEntropy.LossAndGradient(longRows, [7, 65535], new float[longRows.Length]), typeof(CrossEntropyKernel));
    }

    [Fact]
    public void LinearCrossEntropyRunnerKeepsNothing()
    {
        const int Hidden = 16;
        foreach (var (rows, classes) in new[] { (512, 100), (16, 2000) }) // token lanes; vocabulary groups
        {
            var hidden = AllocationCalls.Fill(rows * Hidden, 1);
            var weight = AllocationCalls.Fill(classes * Hidden, 2);
            var bias = AllocationCalls.Fill(classes, 3);
            int[] targets = [.. Enumerable.Range(0, rows).Select(n => n % 5 == 4 ? -100 : (n * 7919) % classes)];
            float[] dHidden = new float[hidden.Length], dWeight = new float[weight.Length], dBias = new float[classes];
            var smoothed = new CrossEntropyOptions { LabelSmoothing = 0.1f, ZLoss = 1e-4f, SoftCap = 30f };
            AfterCall(() => LinearCrossEntropy.LossAndGradients(hidden, weight, bias, targets, new(dHidden, dWeight, dBias), options: smoothed), FusedRunners);
            AfterCall(() => LinearCrossEntropy.Loss(hidden, weight, targets, CrossEntropyOptions.Default with { MaxDegreeOfParallelism = 1 }), FusedRunners);
            AfterCall(() => LinearCrossEntropy.LossAndGradients(hidden, weight, bias, targets, new(dHidden, dWeight, dBias),
                options: new LinearCrossEntropyOptions { FilterThreshold = 1e-6f, Accumulate = true }), FusedRunners);
        }
    }

    [Fact]
    public void DistillationKernelKeepsNothing()
    {
        foreach (int classes in new[] { 100, (2 * 4096) + 100 }) // one vocabulary group; three
        {
            var x = new DistillationData(20, classes, 16, 24, seed: 4, ignoreEvery: 3);
            float[] dh = new float[x.N * x.D], dw = new float[x.V * x.D], losses = new float[x.N];
            foreach (var o in new DistillationOptions[]
            {
                new() { Beta = 0f },
                new() { Beta = 1f, HardLossWeight = 0.5f, Temperature = 2f, MaxDegreeOfParallelism = 1 },
                new() { Beta = 0.5f, HardLossWeight = 0.5f, Reduction = Reduction.Sum },
            })
            {
                AfterCall(() => x.LossAndGradients(o, dh, dw), typeof(DistillationKernel));
                AfterCall(() => LinearDistillation.LossPerRow(x.StudentHidden, x.StudentWeight, x.TeacherLogits, x.Targets, losses, o with { Reduction = Reduction.None }),
                    typeof(DistillationKernel));
            }
        }
    }

    [Fact]
    public void ParallelRunnerKeepsNothing()
    {
        var data = new float[4];
        AfterCall(() => ParallelWork.For(data.Length, 2, new Ones(data)), ParallelRunner.MakeGenericType(typeof(Ones)));
        Assert.All(data, v => Assert.Equal(1f, v));
    }

    private static string Key(Type type, string field) => $"{type.FullName}.{field}";

    /// <summary>Runs the call, then checks this thread's spare of every runner type given: there, and as a new one.</summary>
    private static void AfterCall(Action call, params Type[] runners)
    {
        call();
        var problems = new List<string>();
        int spares = 0;
        foreach (var type in runners)
        {
            var field = type.GetFields(StaticFields).Single(f => f.IsDefined(typeof(ThreadStaticAttribute)) && f.FieldType == type);
            if (field.GetValue(null) is { } spare)
            {
                spares++;
                Compare(spare, Activator.CreateInstance(type, nonPublic: true)!, type.Name, problems);
            }
        }

        Assert.True(spares > 0, $"no spare {runners[0].Name} on the calling thread after the call");
        Assert.True(problems.Count == 0, "kept after the call: " + string.Join("; ", problems));
    }

    /// <summary>Every field of <paramref name="spare"/> against a new runner's, but those <see cref="Kept"/> lists.</summary>
    private static void Compare(object spare, object fresh, string path, List<string> problems)
    {
        foreach (var field in Fields(spare.GetType()))
        {
            string key = Key(field.DeclaringType!.IsGenericType ? field.DeclaringType.GetGenericTypeDefinition() : field.DeclaringType, field.Name);
            string at = $"{path}.{field.Name}";
            var value = field.GetValue(spare);
            if (!Kept.ContainsKey(key))
            {
                Same(value, field.GetValue(fresh), field.FieldType, at, problems);
            }
            else if (value is Array lanes && field.FieldType.GetElementType() == spare.GetType())
            {
                for (int i = 0; i < lanes.Length; i++)
                {
                    Compare(lanes.GetValue(i)!, fresh, $"{at}[{i}]", problems);
                }
            }
            else if (value is Delegate own ? !ReferenceEquals(own.Target, spare) : value != null && HoldsAddress(field.FieldType))
            {
                problems.Add($"{at} is kept, and holds what is not the runner's own");
            }
        }
    }

    private static void Same(object? actual, object? expected, Type type, string at, List<string> problems)
    {
        if (type.IsPointer || type.IsFunctionPointer)
        {
            if (Address(actual) != Address(expected))
            {
                problems.Add($"{at} = 0x{Address(actual):x} (a new runner's: 0x{Address(expected):x})");
            }
        }
        else if (type.IsArray && actual is Array a && expected is Array e && a.Length == e.Length)
        {
            // The runner's own array (a new runner has one the same size): its entries as a new one's.
            var element = type.GetElementType()!;
            for (int i = 0; i < a.Length; i++)
            {
                Same(a.GetValue(i), e.GetValue(i), element, $"{at}[{i}]", problems);
            }
        }
        else if (type.IsValueType && !type.IsPrimitive && !type.IsEnum)
        {
            foreach (var field in Fields(type))
            {
                Same(field.GetValue(actual), field.GetValue(expected), field.FieldType, $"{at}.{field.Name}", problems);
            }
        }
        else if (type.IsValueType ? !Equals(actual, expected) : !ReferenceEquals(actual, expected))
        {
            problems.Add($"{at} = {actual ?? "null"} (a new runner's: {expected ?? "null"})");
        }
    }

    /// <summary>Whether a value of this type can hold a reference or an address (a kept field must not).</summary>
    private static bool HoldsAddress(Type type) =>
        type.IsArray ? HoldsAddress(type.GetElementType()!)
        : type.IsPointer || type.IsFunctionPointer || !type.IsValueType || (!type.IsPrimitive && !type.IsEnum && Fields(type).Any(f => HoldsAddress(f.FieldType)));

    // A pointer field's value comes boxed as a Pointer, a function pointer's as its address.
    private static nint Address(object? boxed) => boxed switch
    {
        null => 0,
        Pointer pointer => (nint)Pointer.Unbox(pointer),
        _ => (nint)boxed,
    };

    private static IEnumerable<FieldInfo> Fields(Type type) => type.GetFields(InstanceFields);

    // A body that holds the caller's array, as the library's bodies hold its model or runner.
    private readonly struct Ones(float[] data) : IWorkItems
    {
        public void Run(int item) => data[item] = 1f;
    }
}
